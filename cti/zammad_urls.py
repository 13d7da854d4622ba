"""Zammad-compatible CTI endpoints, mounted by the project at ``api/v1/cti/``: a PBX set up
for Zammad posts its events to ``api/v1/cti/<token>`` unchanged, and asks
``api/v1/cti/<token>/route`` where to send a caller. The URL names are global
(``cti-zammad``, ``cti-route``), as they were when the project listed these paths itself."""

from django.urls import path

from cti import api

urlpatterns = [
    path("<str:token>", api.zammad_event, name="cti-zammad"),
    path("<str:token>/route", api.route, name="cti-route"),
]
