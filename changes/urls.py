from django.urls import path

from changes import views

app_name = "changes"
urlpatterns = [
    path("feed/<str:key>.ics", views.calendar_feed, name="calendar_feed"),
]
