"""Settings for the help desk: one module, read from the environment.

With nothing set it runs the embedded default: SQLite in WAL mode under ``var/``, an
in-memory channel layer, and Celery on a filesystem broker (a real worker and beat
process, see README). With ``DATABASE_URL`` and ``REDIS_URL`` it runs on PostgreSQL and
Redis. ``.env.example`` lists every variable.
"""

from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(environ.Env().str("HELPDESK_VAR_DIR", default=str(BASE_DIR / "var")))

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# "development" (the embedded default of `make run` and the tests) or "production", which
# turns every security default on and refuses to start without a SECRET_KEY.
HELPDESK_ENV = env.str("HELPDESK_ENV", default="development")
PRODUCTION = HELPDESK_ENV == "production"
# Off unless asked for, `make run` included: a DEBUG page lists the URL patterns and settings
# to anyone. DEBUG=1 turns it on while developing (static files are served either way).
DEBUG = env.bool("DEBUG", default=False)
if PRODUCTION:
    SECRET_KEY = env.str("SECRET_KEY")
else:
    SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-embedded-default-do-not-deploy")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "axes",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    "helpdesk",
    "tickets",
    "cti",
    "mail",
    "sla",
    "changes",
    "outages",
    "surveys",
    "kb",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "helpdesk.middleware.UserPreferencesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "helpdesk.csp.ContentSecurityPolicyMiddleware",
    # Last: turns a locked-out sign-in on any door into its 429 answer.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "helpdesk.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "helpdesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "helpdesk.context_processors.roles",
            ],
        },
    },
    {
        # Only for templates rendered on a latency-critical path (helpdesk/jinja.py).
        "BACKEND": "django.template.backends.jinja2.Jinja2",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {"environment": "helpdesk.jinja.environment"},
    },
]

# --- Database --------------------------------------------------------------------------
VAR_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'helpdesk.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server, the Celery worker and beat read while one of them writes;
    # IMMEDIATE transactions take the write lock up front instead of failing mid-way.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
elif env.bool("DATABASE_POOL", default=True):
    # Under ASGI every sync request may run on a new thread; persistent per-thread
    # connections (CONN_MAX_AGE) then pile up until PostgreSQL refuses clients (seen at 100
    # screen pops/s). A psycopg pool per process hands connections back after each request.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DATABASE_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DATABASE_POOL_MAX_SIZE", default=20),
        "timeout": env.float("DATABASE_POOL_TIMEOUT", default=10.0),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Form widgets through Jinja2 (helpdesk.form_rendering: the ticket page's selects).
FORM_RENDERER = "helpdesk.form_rendering.FormRenderer"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: cache, channel layer, Celery broker ---------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="helpdesk"),
        }
    }
    # Sessions read from Redis, written through to the database (they survive a flush).
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    # The pub/sub layer: the default RedisChannelLayer drops messages silently when a
    # group send outruns its per-channel capacity (measured, see docs/architecture.md).
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_PREFIX", default="hd")},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# How long a user's permissions are kept in the cache (helpdesk.auth); changes to roles and
# permissions forget them at once. Only with a shared cache (Redis): a cache of each
# process's own would not hear of a change made in another process.
PERMISSION_CACHE_SECONDS = env.int("PERMISSION_CACHE_SECONDS", default=300 if REDIS_URL else 0)

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded default: a real broker on local disk shared by web, worker and beat.
    _celery_dir = VAR_DIR / "celery"
    for _sub in ("queue", "processed", "control"):
        (_celery_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_celery_dir / "queue"),
        "data_folder_out": str(_celery_dir / "queue"),
        "processed_folder": str(_celery_dir / "processed"),
        "control_folder": str(_celery_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = env.str("TIME_ZONE", default="Europe/Warsaw")
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "tickets-close-resolved": {
        "task": "tickets.close_resolved_tickets",
        "schedule": env.float("AUTO_CLOSE_SWEEP_SECONDS", default=300.0),
    },
    "tickets-forget-creation-keys": {
        "task": "tickets.forget_creation_keys",
        "schedule": 3600.0,
    },
    "cti-end-stale-calls": {
        "task": "cti.end_stale_calls",
        "schedule": float(env.int("CTI_STALE_SWEEP_SECONDS", default=60)),
    },
    "cti-end-after-call-work": {
        "task": "cti.end_after_call_work",
        "schedule": env.float("CTI_AFTER_CALL_WORK_SWEEP_SECONDS", default=30.0),
    },
    "mail-fetch": {
        "task": "mail.fetch_all_mailboxes",
        "schedule": env.float("MAIL_FETCH_SECONDS", default=60.0),
    },
    "mail-retry-outbound": {
        "task": "mail.send_due_outbound",
        "schedule": env.float("MAIL_RETRY_SWEEP_SECONDS", default=60.0),
    },
    "sla-sweep": {
        "task": "sla.sweep",
        "schedule": env.float("SLA_SWEEP_SECONDS", default=60.0),
    },
    "surveys-send-invitations": {
        "task": "surveys.send_due_invitations",
        "schedule": env.float("SURVEYS_SEND_SECONDS", default=300.0),
    },
    "kb-remind-overdue-reviews": {
        "task": "kb.remind_overdue_reviews",
        "schedule": 3600.0,
    },
    "kb-abandon-stale-script-runs": {
        "task": "kb.abandon_stale_script_runs",
        "schedule": 300.0,
    },
    "sla-weekly-reports": {
        "task": "sla.send_weekly_reports",
        "schedule": env.float("SLA_WEEKLY_REPORTS_SECONDS", default=3600.0),
    },
    # The managers' dashboard's day summary (docs/sla.md): today and yesterday often, the
    # last 31 days once a night (at this interval, from the first run of beat).
    "sla-dashboard-summary": {
        "task": "sla.refresh_dashboard_summary",
        "schedule": env.float("SLA_DASHBOARD_SUMMARY_SECONDS", default=300.0),
        "kwargs": {"days": 2},
    },
    "sla-dashboard-snapshot": {
        "task": "sla.refresh_dashboard_snapshot",
        "schedule": env.float("SLA_DASHBOARD_SNAPSHOT_SECONDS", default=60.0),
    },
    "sla-dashboard-summary-rebuild": {
        "task": "sla.refresh_dashboard_summary",
        "schedule": env.float("SLA_DASHBOARD_REBUILD_SECONDS", default=86400.0),
        "kwargs": {"days": 31},
    },
}

# --- Service levels --------------------------------------------------------------------
# Pending reasons (tickets.models.PendingReason) that stop the SLA clocks while they last.
SLA_PAUSING_REASONS = env.list("SLA_PAUSING_REASONS", default=["user", "third_party"])
# The dashboard's call service level: the share of calls answered within this many seconds.
SLA_CALL_ANSWER_SECONDS = env.int("SLA_CALL_ANSWER_SECONDS", default=20)
# The dashboard's backlog and breaches come from the snapshot beat takes every minute while
# it is at most this old; older (beat stopped), the page counts them itself.
SLA_DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS = env.int(
    "SLA_DASHBOARD_SNAPSHOT_MAX_AGE_SECONDS", default=600
)
# The medians of time to resolve are cached per filter until the summary's next rebuild
# (the key changes then); this bounds how long an unused entry stays.
SLA_DASHBOARD_MEDIANS_CACHE_SECONDS = env.int("SLA_DASHBOARD_MEDIANS_CACHE_SECONDS", default=900)

# --- Mass outages (docs/outages.md) -----------------------------------------------------
# Suggest declaring an outage when this many tickets for one service arrive within minutes.
OUTAGES_SUGGEST_TICKETS = env.int("OUTAGES_SUGGEST_TICKETS", default=3)
OUTAGES_SUGGEST_MINUTES = env.int("OUTAGES_SUGGEST_MINUTES", default=15)
# The caller card matches outages against the services of the caller's tickets of these days.
OUTAGES_CARD_TICKET_DAYS = env.int("OUTAGES_CARD_TICKET_DAYS", default=30)

# --- Auth ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out account or address before the password is checked.
    "helpdesk.auth.LockoutBackend",
    "helpdesk.auth.HelpdeskBackend",
]
LOGIN_URL = "login"
# "/" sends each role where its work is (helpdesk.roles.landing_url); so does the login page.
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Session lifetime in seconds: end users keep theirs for SESSION_COOKIE_AGE (two weeks),
# staff (the console, the admin) for STAFF_SESSION_COOKIE_AGE (eight hours: a shift).
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=14 * 24 * 3600)
STAFF_SESSION_COOKIE_AGE = env.int("STAFF_SESSION_COOKIE_AGE", default=8 * 3600)

# Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed: addresses or networks
# ("10.0.0.5", "10.0.0.0/24"). Empty: none, every client is the peer of the connection.
# helpdesk/server.py gives uvicorn the same list; helpdesk.security.client_ip is Django's.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Password reset by e-mail: how long the link works (seconds) and mails per address per hour.
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 3600)
PASSWORD_RESET_PER_HOUR = env.int("PASSWORD_RESET_PER_HOUR", default=3)
# Failed sign-ins (django-axes), on the login page, the admin and POST /api/auth/token/
# alike: after LOGIN_FAILURE_LIMIT failures in a row for one user name, or from one client
# address, that name or address is refused for LOGIN_LOCKOUT_MINUTES. A successful sign-in
# clears the count. Administrators unlock under Admin > Axes > Access attempts (delete).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "helpdesk.security.client_ip"
AXES_LOCKOUT_CALLABLE = "helpdesk.security.lockout_response"
AXES_ENABLE_ACCESS_FAILURE_LOG = True

# API tokens (helpdesk.models.ApiToken): lifetime offered by default and the longest allowed.
API_TOKEN_DEFAULT_DAYS = env.int("API_TOKEN_DEFAULT_DAYS", default=90)
API_TOKEN_MAX_DAYS = env.int("API_TOKEN_MAX_DAYS", default=365)

# --- I18N ------------------------------------------------------------------------------
LANGUAGE_CODE = env.str("LANGUAGE_CODE", default="en")
LANGUAGES = [("en", _("English")), ("pl", _("Polish"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="Europe/Warsaw")
USE_I18N = True
USE_TZ = True

# --- Static and media ------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# WhiteNoise warns on every start when the directory is missing (before collectstatic).
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
STATICFILES_DIRS = [BASE_DIR / "static"] if (BASE_DIR / "static").is_dir() else []
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(VAR_DIR / "media")))
# Attachments are never served from MEDIA_URL: a view checks who may see the ticket first.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not PRODUCTION

# --- Help desk rules -------------------------------------------------------------------
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="PL")
TICKET_REOPEN_DAYS = env.int("TICKET_REOPEN_DAYS", default=7)
TICKET_AUTO_CLOSE_DAYS = env.int("TICKET_AUTO_CLOSE_DAYS", default=7)
# The code of the support group new tickets land in; empty: the first active first-line group.
TICKET_DEFAULT_GROUP = env.str("TICKET_DEFAULT_GROUP", default="")
# Telephony: the queue code a call goes to when the PBX names none (and the routing hint's
# default), the presence an agent gets after hanging up, and the AMI reconnect back-off cap.
CTI_DEFAULT_QUEUE = env.str("CTI_DEFAULT_QUEUE", default="service-desk")
CTI_PRESENCE_AFTER_CALL = env.str("CTI_PRESENCE_AFTER_CALL", default="after_call_work")
# After-call work ends by itself after this many seconds (the agent becomes available);
# 0: it lasts until the agent changes it (cti.services.presence.after_call_work_end_due).
CTI_AFTER_CALL_WORK_SECONDS = env.int("CTI_AFTER_CALL_WORK_SECONDS", default=120)
CTI_AMI_RECONNECT_MAX_SECONDS = env.float("CTI_AMI_RECONNECT_MAX_SECONDS", default=60.0)
# A call whose hang-up never arrived is ended after this long ringing / talking, so it
# does not pop on consoles for ever (cti.services.calls_end_stale).
CTI_RING_TIMEOUT = env.int("CTI_RING_TIMEOUT", default=180)
CTI_CALL_MAX_SECONDS = env.int("CTI_CALL_MAX_SECONDS", default=4 * 3600)
CTI_STALE_SWEEP_SECONDS = env.int("CTI_STALE_SWEEP_SECONDS", default=60)
# The wallboard's lost-call alarm (cti/wallboard.py): missed + abandoned above this share of
# the inbound calls that ended in the last CTI_WALLBOARD_LOST_WINDOW_MINUTES, once at least
# CTI_WALLBOARD_LOST_ALARM_MIN_CALLS ended in that window (one missed call at night is no alarm).
CTI_WALLBOARD_LOST_ALARM_PERCENT = env.float("CTI_WALLBOARD_LOST_ALARM_PERCENT", default=20.0)
CTI_WALLBOARD_LOST_ALARM_MIN_CALLS = env.int("CTI_WALLBOARD_LOST_ALARM_MIN_CALLS", default=5)
CTI_WALLBOARD_LOST_WINDOW_MINUTES = env.int("CTI_WALLBOARD_LOST_WINDOW_MINUTES", default=15)
# Click-to-dial (AMI Originate): the agent's channel and the dial-plan context for the number.
CTI_AMI_ORIGINATE_CHANNEL = env.str("CTI_AMI_ORIGINATE_CHANNEL", default="PJSIP/{extension}")
CTI_AMI_ORIGINATE_CONTEXT = env.str("CTI_AMI_ORIGINATE_CONTEXT", default="from-internal")
# Only for bench/cti_screen_pop.py: POST /cti/bench/echo/<user id>/ pushes an empty message
# to that agent's consoles (the no-database baseline of the screen pop). Off everywhere else.
CTI_BENCH_ENDPOINTS = env.bool("CTI_BENCH_ENDPOINTS", default=False)
ATTACHMENT_MAX_BYTES = env.int("ATTACHMENT_MAX_BYTES", default=10 * 1024 * 1024)
# MIME types detected from the content (magic numbers), never from the file name.
ATTACHMENT_ALLOWED_TYPES = env.list(
    "ATTACHMENT_ALLOWED_TYPES",
    default=[
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/csv",
        "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "message/rfc822",
    ],
)
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# --- REST API --------------------------------------------------------------------------
REST_FRAMEWORK = {
    # The token first: its WWW-Authenticate header makes an anonymous request a 401, as on
    # every endpoint of the API (with the session first DRF answers 403).
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "helpdesk.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "helpdesk.api_support.StandardPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "helpdesk.api_support.exception_handler",
    "DEFAULT_THROTTLE_RATES": {"anon": "60/minute"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Help desk API",
    "DESCRIPTION": "Tickets, people, support groups, services and categories.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # The same choices appear under several field names (model field and API input).
    "ENUM_NAME_OVERRIDES": {
        "PendingReasonEnum": "tickets.models.PendingReason",
        "ResolutionCodeEnum": "tickets.models.ResolutionCode",
        "TicketTypeEnum": "tickets.models.TicketType",
        "ChangeTypeEnum": "changes.models.ChangeType",
        "CloseCodeEnum": "changes.models.CloseCode",
        "ArticleStateEnum": "kb.models.State",
    },
}

# --- Security (on by default in production) ---------------------------------------------
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=PRODUCTION)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=PRODUCTION)
LANGUAGE_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=PRODUCTION)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if PRODUCTION else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=PRODUCTION)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# Content-Security-Policy (django-csp, helpdesk.csp adds this host's websocket): no inline
# script or style anywhere; a template that needs an inline script uses
# {{ request.csp_nonce }} and the nonce is added to script-src for that response.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF],
        # Bootstrap draws some icons (the navbar toggler, form validation) as data: SVG.
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("USE_X_FORWARDED_PROTO", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HSTS preloading commits the whole registrable domain (every intranet host under it) to
# HTTPS in browsers for good; that is the domain owner's decision, not this application's.
# Set SECURE_HSTS_PRELOAD=true to opt in; the deploy check's W021 reminder is silenced.
SILENCED_SYSTEM_CHECKS = env.list("SILENCED_SYSTEM_CHECKS", default=["security.W021"])

# --- Logging ---------------------------------------------------------------------------
# A refused or missing page (4xx) is one line: Django logs it with the exception's traceback,
# which says nothing for a 403 or 404 (helpdesk.logs.OneLineClientErrors); 5xx keep theirs.
# Django's own console handler (DEBUG only) is dropped: every record reaches the root's once.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "filters": {"one_line_client_errors": {"()": "helpdesk.logs.OneLineClientErrors"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["one_line_client_errors"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"filters": ["one_line_client_errors"]},
        "django.security.csrf": {"filters": ["one_line_client_errors"]},
        "django.db.backends": {"level": "WARNING"},
    },
}

# --- E-mail ----------------------------------------------------------------------------
# Outgoing mail: EMAIL_URL (smtp://user:password@host:587/?tls=True, smtp+ssl://..., or
# consolemail:// / filemail:// for trials). The embedded default writes mail to files under
# var/mail-out so `make run` sends nothing anywhere.
_email = env.email_url("EMAIL_URL", default=f"filemail://{VAR_DIR / 'mail-out'}")
EMAIL_BACKEND = _email["EMAIL_BACKEND"]
EMAIL_HOST = _email.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _email.get("EMAIL_PORT", 25)
EMAIL_HOST_USER = _email.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = _email.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
EMAIL_FILE_PATH = _email.get("EMAIL_FILE_PATH", str(VAR_DIR / "mail-out"))
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="servicedesk@mobilnet.example")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# The domain of our Message-IDs: a mail coming back with one of them is our own.
MAIL_MESSAGE_ID_DOMAIN = env.str(
    "MAIL_MESSAGE_ID_DOMAIN",
    default="helpdesk." + (DEFAULT_FROM_EMAIL.rpartition("@")[2] or "invalid"),
)
# The value of the X-Loop header on everything we send (and drop when it comes back).
MAIL_LOOP_ID = env.str("MAIL_LOOP_ID", default=f"helpdesk@{MAIL_MESSAGE_ID_DOMAIN}")
# Key for mailbox passwords and OAuth2 tokens kept in the database; empty: from SECRET_KEY.
MAIL_SECRET_KEY = env.str("MAIL_SECRET_KEY", default="")
# Inbound bounds: a larger mail is kept as headers only and its sender told once.
MAIL_MAX_BYTES = env.int("MAIL_MAX_BYTES", default=25 * 1024 * 1024)
MAIL_MAX_ATTACHMENTS = env.int("MAIL_MAX_ATTACHMENTS", default=30)
MAIL_PROCESS_SECONDS = env.int("MAIL_PROCESS_SECONDS", default=60)
MAIL_FETCH_BATCH = env.int("MAIL_FETCH_BATCH", default=200)
# A sender with more mails than this in an hour is quarantined (and told once).
MAIL_INBOUND_PER_SENDER_PER_HOUR = env.int("MAIL_INBOUND_PER_SENDER_PER_HOUR", default=40)
# Outgoing caps per hour: per ticket and per recipient address.
MAIL_OUTBOUND_PER_TICKET_PER_HOUR = env.int("MAIL_OUTBOUND_PER_TICKET_PER_HOUR", default=20)
MAIL_OUTBOUND_PER_RECIPIENT_PER_HOUR = env.int("MAIL_OUTBOUND_PER_RECIPIENT_PER_HOUR", default=30)
# Sending: attempts before an outgoing mail is marked failed, first back-off in seconds.
MAIL_SEND_ATTEMPTS = env.int("MAIL_SEND_ATTEMPTS", default=5)
MAIL_SEND_BACKOFF_SECONDS = env.int("MAIL_SEND_BACKOFF_SECONDS", default=60)
