"""Settings, all from environment variables with safe local defaults.

Every variable read here is listed in the settings table, docs/settings.md. With DEBUG off and only
SECRET_KEY, ALLOWED_HOSTS and DATABASE_URL set, the result is production-grade:
`python manage.py check --deploy --fail-level WARNING` passes.
"""

from pathlib import Path

import environ
from django.conf.locale import LANG_INFO
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
    "csp",
    "axes",
    "scheduling",
    "notifications",
    "verification",
]

MIDDLEWARE = [
    "verify_site.middleware.HealthCheckMiddleware",
    "verify_site.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "verify_site.middleware.NoStoreMiddleware",
    "verify_site.middleware.NulCharacterMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "verify_site.middleware.StaffSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a locked-out login into the lockout page
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

# Every page, email, invite and error message ships in these languages (docs/languages.md). Django
# knows all but Filipino; LANG_INFO below gives it its name. The catalogues are in locale/<lang>/.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("es", "Español"),
    ("pt-br", "Português (Brasil)"),
    ("fr", "Français"),
    ("hi", "हिन्दी"),
    ("ru", "Русский"),
    ("uk", "Українська"),
    ("fil", "Filipino"),
    ("ar", "العربية"),
    ("zh-hans", "简体中文"),
]
LANG_INFO.setdefault("fil", {"bidi": False, "code": "fil", "name": "Filipino", "name_local": "Filipino"})
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_NAME = "staff_language"  # the staff picker (/i18n/setlang/); freelancers' choice is on the case
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
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out user or address before any check
    "django.contrib.auth.backends.ModelBackend",
]

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

# Content-Security-Policy on every answer (django-csp; Django 5.2 has no CSP of its own): scripts,
# styles, images, fonts and fetches from this site only, no plugins, no <base>, never framed, forms
# post only here. No inline script or style anywhere; the one exception, the Swagger UI page, is
# `verify_site.api_docs` (docs/security-headers.md).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],  # data: for the empty favicon and Chart.js' canvas export
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# Staff sessions (the console and the admin) end after a working day and when the browser closes.
# Freelancer pages never use a session: their signed link is the credential.
SESSION_COOKIE_AGE = env.int("STAFF_SESSION_HOURS", default=9) * 3600
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

# /api/docs/ (Swagger UI) and /api/schema/: public by default with DEBUG on; in production only for
# staff signed in to the console, unless API_DOCS_PUBLIC=true (docs/security-headers.md).
API_DOCS_PUBLIC = env.bool("API_DOCS_PUBLIC", default=DEBUG)

# --- Limits (docs/security.md) -----------------------------------------------------------------
# Behind a TLS proxy the client's address is the right-most X-Forwarded-For entry (NUM_PROXIES=1);
# directly exposed, X-Forwarded-For is ignored, so nobody escapes a per-address limit by sending one.
NUM_PROXIES = env.int("NUM_PROXIES", default=1 if env.bool("BEHIND_TLS_PROXY", default=False) else 0)
# Logins (staff: the admin and the console share Django's admin login form), django-axes.
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = env.float("LOGIN_COOLOFF_MINUTES", default=15) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # each on its own: per user and per address
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "verification.throttles.client_address"
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
AXES_VERBOSE = False
# The API (DRF throttles on the cache below): answers 429 with Retry-After.
API_THROTTLE_RATES = {
    "auth_failure": env.str("THROTTLE_AUTH_FAILURES", default="30/min"),  # wrong Api-Key or Bearer, per address
    "marketplace": env.str("THROTTLE_MARKETPLACE", default="6000/min"),  # per API key
    "freelancer": env.str("THROTTLE_FREELANCER", default="120/min"),  # per freelancer (their link token)
    "availability": env.str("THROTTLE_AVAILABILITY", default="30/min"),  # availability reads, per freelancer
    "availability_address": env.str("THROTTLE_AVAILABILITY_ADDRESS", default="120/min"),  # ... and per address
}
# A freelancer's changes of time (a move, or a new booking after cancelling) are this far apart at least.
BOOKING_CHANGE_COOLDOWN_SECONDS = env.int("BOOKING_CHANGE_COOLDOWN_SECONDS", default=60)

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
PAST_SLOTS_KEEP_MAX_DAYS = env.int("PAST_SLOTS_KEEP_MAX_DAYS", default=90)
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
    "past-slots-prune": {"task": "verification.tasks.past_slots_prune", "schedule": 3600},
    "calendars-sync": {"task": "scheduling.tasks.calendars_sync_all", "schedule": CALENDAR_SYNC_SECONDS,
                       "options": {"expires": CALENDAR_SYNC_SECONDS}},
}

# --- Cache (the API's throttles) ---------------------------------------------------------------
CACHE_URL = env.str("CACHE_URL", default=REDIS_URL)
CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL,
                "KEY_PREFIX": "verify"}
    if CACHE_URL
    else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},  # one process only (the demo)
}
# The most an availability answer is served from the cache: every write that changes it invalidates
# it (scheduling/generation.py), this bounds a missed one. 0: no cache; off with the per-process
# memory cache, where the worker's invalidations never reach the web process.
AVAILABILITY_CACHE_SECONDS = env.int("AVAILABILITY_CACHE_SECONDS", default=60 if CACHE_URL else 0)

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["verify_site.parsers.SafeJSONParser"],
    "DEFAULT_SCHEMA_CLASS": "verify_site.schema.ViewScopedAutoSchema",
    "EXCEPTION_HANDLER": "verify_site.exceptions.api_exception_handler",
    "UNAUTHENTICATED_USER": None,
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Verification-call scheduler API",
    "DESCRIPTION": "Marketplace API (Api-Key) and freelancer API (Bearer link token).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["verify_site.permissions.ApiDocsAllowed"],
    "SERVE_AUTHENTICATION": ["rest_framework.authentication.SessionAuthentication"],
    "SWAGGER_UI_DIST": "SIDECAR",  # served from our own static files, no CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},  # no badge fetched from elsewhere
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

# --- The representatives' calendar feed and earlier times (issue 16) --------------------------
CALENDAR_FEED_RATE = env.str("CALENDAR_FEED_RATE", default="60/hour")  # per feed token (DRF throttle syntax)
CALENDAR_FEED_REFRESH_MINUTES = env.int("CALENDAR_FEED_REFRESH_MINUTES", default=15)
CALENDAR_FEED_PAST_DAYS = env.int("CALENDAR_FEED_PAST_DAYS", default=7)
CALENDAR_FEED_CANCELLED_DAYS = env.int("CALENDAR_FEED_CANCELLED_DAYS", default=14)
EARLIER_TIMES_OFFERS_PER_TIME = env.int("EARLIER_TIMES_OFFERS_PER_TIME", default=3)
EARLIER_TIMES_STAGGER_MINUTES = env.int("EARLIER_TIMES_STAGGER_MINUTES", default=10)

# --- issue 14: privacy and links (docs/privacy.md, docs/security-links.md) ------------------
# The fresh-link request is rate-limited with django-ratelimit; its counters live in the cache,
# (CACHES above: Redis when REDIS_URL is set, shared by every web process).
RATELIMIT_USE_CACHE = "default"
LINK_RENEWAL_RATE = env.str("LINK_RENEWAL_RATE", default="3/h")  # fresh links mailed per case
LINK_RENEWAL_RATE_PER_ADDRESS = env.str("LINK_RENEWAL_RATE_PER_ADDRESS", default="20/h")  # requests per client address
# The presence code is an HMAC of the booking with this key (never computable from the join URL);
# empty: a key derived from SECRET_KEY.
PRESENCE_CODE_KEY = env.str("PRESENCE_CODE_KEY", default="")
# Webhook endpoints must be https; plain http only to a loopback address, and only when this is on.
WEBHOOK_HTTP_LOOPBACK = env.bool("WEBHOOK_HTTP_LOOPBACK", default=DEBUG)
# Personal data of cases closed longer than this is erased by the daily retention task.
PRIVACY_RETENTION_DAYS = env.int("PRIVACY_RETENTION_DAYS", default=365)
# Keep freelancer tokens out of Django's own request logs (gunicorn's access log: gunicorn.conf.py).
LOGGING["filters"] = {"tokens": {"()": "verify_site.logfilters.TokenFilter"}}
LOGGING["handlers"]["console"]["filters"] = ["tokens"]
CELERY_BEAT_SCHEDULE["privacy-retention"] = {"task": "verification.tasks.cases_retention_apply",
                                             "schedule": 24 * 3600}
