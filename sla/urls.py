from django.urls import path

from sla import views

app_name = "sla"
urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/weekly-summary/", views.weekly_subscription, name="weekly_subscription"),
]
