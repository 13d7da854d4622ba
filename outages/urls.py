from django.urls import path

from outages import views

app_name = "outages"
urlpatterns = [
    path("", views.outage_list, name="list"),
    path("new/", views.outage_declare, name="new"),
    path("attach/", views.outage_attach, name="attach"),
    path("notices/", views.notices, name="notices"),
    path("for-service/", views.for_service, name="for_service"),
    path("suggestions/<int:pk>/dismiss/", views.suggestion_dismiss, name="suggestion_dismiss"),
    path("<int:pk>/", views.outage_detail, name="detail"),
    path("<int:pk>/update/", views.outage_update, name="update"),
    path("<int:pk>/link/", views.outage_link, name="link"),
    path("<int:pk>/resolve/", views.outage_resolve, name="resolve"),
    path("<int:pk>/cancel/", views.outage_cancel, name="cancel"),
    path("<int:pk>/join/", views.outage_join, name="join"),
]
