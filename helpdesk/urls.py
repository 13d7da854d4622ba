from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from cti import api as cti_api
from helpdesk.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # Zammad-compatible CTI (PBXes set up for Zammad post here unchanged) and routing hints.
    path("api/v1/cti/<str:token>", cti_api.zammad_event, name="cti-zammad"),
    path("api/v1/cti/<str:token>/route", cti_api.route, name="cti-route"),
    path("api/", include("helpdesk.api_urls")),
    path("cti/", include("cti.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("helpdesk.web_urls")),
    path("", include("tickets.urls")),
]

if settings.DEBUG:
    urlpatterns += []
