"""Settings, all from environment variables with safe local defaults.

Every variable read here is listed in the settings table, docs/settings.md. With DEBUG off and only
SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL set, the result is production-grade:
`python manage.py check --deploy --fail-level WARNING` passes.
"""

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # local state of the embedded default (SQLite, broker, mail)

env = environ.Env()

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-dev-only-key-never-use-in-production-5a1f0c0e9b7d4e2f8a6c3b1d"  # noqa: S105

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "scheduling",
    "notifications",
    "verification",
]

MIDDLEWARE = [
    "verify_site.middleware.HealthCheckMiddleware",
    "verify_site.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "verify_site.urls"
WSGI_APPLICATION = "verify_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "verify_site" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: wait for locks, don't fail.
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "verify_site" / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

LOGIN_URL = "admin:login"

# --- Security (production-grade unless DEBUG) -----------------------------------------------
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if env.bool("BEHIND_TLS_PROXY", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# --- Email ----------------------------------------------------------------------------------
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    default="notifications.mail.DevMailboxBackend"
    if DEBUG
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env.str("EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = 20
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Verification <verify@localhost>")
DEV_MAILBOX_DIR = VAR_DIR / "mail"

# --- Scheduling -----------------------------------------------------------------------------
CALL_MINUTES = env.int("CALL_MINUTES", default=3)
CALL_BUFFER_MINUTES = env.int("CALL_BUFFER_MINUTES", default=2)
SLOT_HORIZON_DAYS = env.int("SLOT_HORIZON_DAYS", default=21)
BOOKING_MIN_NOTICE_MINUTES = env.int("BOOKING_MIN_NOTICE_MINUTES", default=60)
JOIN_URL_TEMPLATE = env.str("JOIN_URL_TEMPLATE", default="https://meet.jit.si/verify-{token}")
DIAL_IN_NUMBER = env.str("DIAL_IN_NUMBER", default="")

# --- Representatives' calendars (docs/calendars.md) --------------------------------------------
# Fernet key (urlsafe base64 of 32 bytes) encrypting calendar passwords and private iCal addresses at
# rest. Empty: calendars cannot be connected (with DEBUG, a development key derived from SECRET_KEY).
CALENDAR_CREDENTIALS_KEY = env.str("CALENDAR_CREDENTIALS_KEY", default="")
if not CALENDAR_CREDENTIALS_KEY and DEBUG:
    import base64 as _base64
    import hashlib as _hashlib

    CALENDAR_CREDENTIALS_KEY = _base64.urlsafe_b64encode(
        _hashlib.sha256(f"calendar-dev-key:{SECRET_KEY}".encode()).digest()).decode()
CALENDAR_SYNC_SECONDS = env.int("CALENDAR_SYNC_SECONDS", default=300)
CALENDAR_TIMEOUT_SECONDS = env.int("CALENDAR_TIMEOUT_SECONDS", default=10)
CALENDAR_ICAL_MAX_BYTES = env.int("CALENDAR_ICAL_MAX_BYTES", default=5 * 1024 * 1024)
# CalDAV servers on loopback or private networks (a Radicale beside the app, a company Nextcloud):
# refused outside DEBUG unless this is true (a representative could otherwise aim requests inside).
CALENDAR_CALDAV_ALLOW_PRIVATE = env.bool("CALENDAR_CALDAV_ALLOW_PRIVATE", default=False)

# --- Notifications (the outbox) ---------------------------------------------------------------
OUTBOX_SWEEP_SECONDS = env.int("OUTBOX_SWEEP_SECONDS", default=30)
OUTBOX_BATCH_SIZE = env.int("OUTBOX_BATCH_SIZE", default=500)
OUTBOX_SEND_CHUNK = 25  # messages per send task, over one SMTP connection
OUTBOX_MAX_BATCHES_PER_SWEEP = 40
# A claimed message whose send task has not started by then is claimed again: a task lost with the
# broker's queue is replaced at the next sweep (shorter than the sweep interval, see docs/notifications.md).
OUTBOX_CLAIM_LEASE_SECONDS = env.int("OUTBOX_CLAIM_LEASE_SECONDS", default=max(1, OUTBOX_SWEEP_SECONDS // 2))
# A worker holds the messages of the task it runs, and an attempt, this long; keep it above the send
# task's hard time limit (CELERY_TASK_TIME_LIMIT) so a live worker is never overtaken.
OUTBOX_LEASE_SECONDS = env.int("OUTBOX_LEASE_SECONDS", default=300)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=6)
OUTBOX_RETRY_BASE_SECONDS = env.int("OUTBOX_RETRY_BASE_SECONDS", default=60)

# How often verification asks the outbox which notices were sent (the grace period starts then).
NOTICE_SENT_CHECK_SECONDS = min(10, OUTBOX_SWEEP_SECONDS)

# --- Metrics (GET /metrics, Prometheus text format) --------------------------------------------
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")  # empty: /metrics answers 404
# prometheus-client reads PROMETHEUS_MULTIPROC_DIR itself (counters shared by several processes)
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")

# --- Celery ---------------------------------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem"):
    for folder in ("broker", "broker-processed", "broker-control"):
        (VAR_DIR / folder).mkdir(parents=True, exist_ok=True)
CELERY_BROKER_TRANSPORT_OPTIONS = (
    {
        "data_folder_in": str(VAR_DIR / "broker"),
        "data_folder_out": str(VAR_DIR / "broker"),
        "processed_folder": str(VAR_DIR / "broker-processed"),
        "control_folder": str(VAR_DIR / "broker-control"),
        "store_processed": False,
    }
    if CELERY_BROKER_URL.startswith("filesystem")
    else {"visibility_timeout": 3600}
)
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 120
CELERY_TASK_SOFT_TIME_LIMIT = 90
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULE_FILENAME = env.str(
    "CELERY_BEAT_SCHEDULE_FILENAME", default=str(VAR_DIR / "celerybeat-schedule")
)
CELERY_BEAT_SCHEDULE = {
    "slots-sync": {"task": "scheduling.tasks.representatives_slots_sync_all", "schedule": 15 * 60},
    "notices-sent": {"task": "verification.tasks.cases_notice_sent_record", "schedule": NOTICE_SENT_CHECK_SECONDS},
    "displaced-bookings": {"task": "verification.tasks.bookings_displaced_handle", "schedule": 60},
    "rep-no-show": {"task": "verification.tasks.bookings_rep_no_show_detect", "schedule": 60},
    "deadline-sweep": {"task": "verification.tasks.cases_deadline_sweep", "schedule": 60},
    # A sweep that waited a whole interval in the queue is dropped: a newer one is behind it, queued
    # after the send tasks the last sweep made, so when a sweep runs every task before it was taken.
    "outbox-dispatch": {"task": "notifications.tasks.outbox_dispatch", "schedule": OUTBOX_SWEEP_SECONDS,
                        "options": {"expires": OUTBOX_SWEEP_SECONDS}},
    "representative-agendas": {"task": "notifications.tasks.representative_agendas", "schedule": 3600},
    "idempotency-keys-prune": {"task": "verification.tasks.idempotency_keys_prune", "schedule": 24 * 3600},
    "calendars-sync": {"task": "scheduling.tasks.calendars_sync_all", "schedule": CALENDAR_SYNC_SECONDS,
                       "options": {"expires": CALENDAR_SYNC_SECONDS}},
}

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "verify_site.schema.ViewScopedAutoSchema",
    "EXCEPTION_HANDLER": "verify_site.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Verification-call scheduler API",
    "DESCRIPTION": "Marketplace API (Api-Key) and freelancer API (Bearer link token).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our own static files, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "CaseStatusEnum": "verification.models.CaseStatus",
        "BookingStatusEnum": "scheduling.models.BookingStatus",
    },
}
API_KEY_CUSTOM_HEADER = None  # `Authorization: Api-Key <key>`

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}
