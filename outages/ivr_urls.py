"""The voice menu's question, mounted by the project at ``api/v1/ivr/`` beside the PBX's
other requests (``api/v1/cti/``)."""

from django.urls import path

from outages import api

urlpatterns = [
    path("announcement", api.ivr_announcement, name="ivr-announcement"),
]
