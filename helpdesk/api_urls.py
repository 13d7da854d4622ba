"""All REST endpoints under /api/. Each app contributes its router registrations."""

from django.urls import include, path

urlpatterns = [
    path("", include("helpdesk.api")),
    path("", include("tickets.api")),
    path("", include("changes.api")),
    path("", include("kb.api")),
    path("", include("surveys.api")),
]
