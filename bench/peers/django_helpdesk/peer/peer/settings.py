"""Settings of the django-helpdesk 2.6.1 peer: production-like (DEBUG off), PostgreSQL.

Follows django-helpdesk's install docs (docs/install.rst) and its demo project's settings:
the documented INSTALLED_APPS, SITE_ID, LOGIN_URL, teams mode off (it needs pinax-teams),
the REST API on (``HELPDESK_API_ENABLED``, on by default in 2.6.1; set explicitly here).
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # bench/peers/django_helpdesk/peer
PEER_DIR = BASE_DIR.parent  # bench/peers/django_helpdesk

SECRET_KEY = os.environ.get("DH_SECRET_KEY", "bench-only-not-secret-dh-peer-0123456789abcdef")
DEBUG = os.environ.get("DH_DEBUG", "") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",  # required by django-helpdesk (e-mail links)
    "django.contrib.humanize",  # required by its templates
    "rest_framework",  # required for the API
    "django_cleanup.apps.CleanupConfig",
    "helpdesk",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "peer.urls"
WSGI_APPLICATION = "peer.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.debug",
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("DH_DATABASE", "dh_bench"),
        "USER": os.environ.get("DH_DB_USER", "postgres"),
        "PASSWORD": os.environ.get("DH_DB_PASSWORD", ""),
        "HOST": os.environ.get("DH_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("DH_DB_PORT", "5432"),
        # Persistent connections: the usual production setting with sync workers
        # (one request at a time per process, so one connection per worker).
        "CONN_MAX_AGE": int(os.environ.get("DH_CONN_MAX_AGE", "60")),
        "CONN_HEALTH_CHECKS": True,
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

SITE_ID = 1

# django-helpdesk
HELPDESK_TEAMS_MODE_ENABLED = False
HELPDESK_API_ENABLED = True
HELPDESK_KB_ENABLED = True
HELPDESK_DEFAULT_SETTINGS = {
    "use_email_as_submitter": True,
    "email_on_ticket_assign": True,
    "email_on_ticket_change": True,
    "login_view_ticketlist": True,
    "email_on_ticket_apichange": True,
    "preset_replies": True,
    "tickets_per_page": 25,
}
LOGIN_URL = "helpdesk:login"
LOGIN_REDIRECT_URL = "helpdesk:home"

# Mail is composed (templates rendered) but not sent anywhere.
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
DEFAULT_FROM_EMAIL = "helpdesk@example.com"
SERVER_EMAIL = "helpdesk@example.com"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = PEER_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = PEER_DIR / "media"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
}
