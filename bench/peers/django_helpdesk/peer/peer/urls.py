"""URLs: django-helpdesk under /helpdesk/ (its own login at /helpdesk/login/), the admin,
and the static files (served by Django itself, so that pages work with DEBUG off and no
web server in front)."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from django.views.static import serve

urlpatterns = [
    path("", RedirectView.as_view(url="/helpdesk/")),
    path("admin/", admin.site.urls),
    path("helpdesk/", include("helpdesk.urls", namespace="helpdesk")),
    re_path(r"^static/(?P<path>.*)$", serve, {"document_root": settings.STATIC_ROOT}),
]
