"""The project's URLs. Apps are mounted by name (``include("cti.urls")``), never imported:
the core depends on no app (docs/architecture.md)."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from helpdesk.health import healthz
from helpdesk.views import favicon

# JSON for an API path no route matches, the usual page elsewhere.
handler404 = "helpdesk.api_support.not_found"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # Browsers ask for /favicon.ico whatever the page's <link rel=icon> says.
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file of its own: the page's
    # Content-Security-Policy allows no inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    # Zammad-compatible CTI (PBXes set up for Zammad post here unchanged) and routing hints.
    path("api/v1/cti/", include("cti.zammad_urls")),
    path("api/v1/ivr/", include("outages.ivr_urls")),
    path("api/", include("helpdesk.api_urls")),
    path("cti/", include("cti.urls")),
    path("sla/", include("sla.urls")),
    path("changes/", include("changes.urls")),
    path("outages/", include("outages.urls")),
    path("surveys/", include("surveys.urls")),
    path("kb/", include("kb.urls")),
    path("", include("mail.urls")),
    path("", include("helpdesk.web_urls")),
    path("", include("tickets.urls")),
]
