"""Pages of the e-mail channel, mounted at the site's root (helpdesk/urls.py)."""

from django.urls import path

from mail import views

app_name = "mail"

urlpatterns = [
    path(
        "account/notifications/",
        views.notification_settings,
        name="notification_settings",
    ),
]
