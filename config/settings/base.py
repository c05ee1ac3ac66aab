"""Settings for every environment, read from environment variables (see README "Configuration")."""

from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.utils.translation import gettext_lazy as _

from config.env import EnvironmentVariableError, env_bool, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "insecure-development-key-only-for-debug" if DEBUG else None)
if not SECRET_KEY:
    raise EnvironmentVariableError("SECRET_KEY is not set: it is required when DEBUG is off.")
if not DEBUG and len(SECRET_KEY) < 50:
    raise EnvironmentVariableError("SECRET_KEY is too short: use at least 50 random characters.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "import_export",
    "simple_history",
    "django_htmx",
    "crm",
    "customers",
    "followups",
    "clubs",
    "complaints",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "crm.middleware.RefuseNulCharactersMiddleware",  # after messages: a page says why
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

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
                "crm.context_processors.navigation",
            ],
        },
    },
]

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "redis+socket", "unix"))
CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}

AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "zh-hans"
LANGUAGES = [("zh-hans", _("Simplified Chinese")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Asia/Shanghai"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(BASE_DIR / "var" / "media")))
MEDIA_URL = "media/"
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# --- Proxy and HTTPS -------------------------------------------------------------------------
# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER=1 (trusts X-Forwarded-Proto).
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
USE_X_FORWARDED_HOST = env_bool("USE_X_FORWARDED_HOST", False)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=300)

# --- E-mail ----------------------------------------------------------------------------------
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "crm@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise EnvironmentVariableError("EMAIL_USE_TLS and EMAIL_USE_SSL are both on: choose one.")

# --- REST API --------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an anonymous call gets 401 with a WWW-Authenticate header, not 403.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.permissions.IsStaffMember"],
    "DEFAULT_FILTER_BACKENDS": [
        "crm.api.filters.CrmFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "crm.api.schema.CrmAutoSchema",
    "EXCEPTION_HANDLER": "crm.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Dealership CRM API",
    "DESCRIPTION": "Customers, vehicles, repair orders, follow-ups and complaints of a dealer group. "
    "Every operation needs an authenticated staff member (session or `Authorization: Token …`) and is "
    "limited to the stores the member works in.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
}

# --- Celery ----------------------------------------------------------------------------------
CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 15 * 60, minimum=1)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 20 * 60, minimum=1)
CELERY_RESULT_EXPIRES = 24 * 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task not acknowledged within this time is given to another worker: keep it above the hard limit.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_TASK_TIME_LIMIT + 10 * 60}
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    # Every night at 02:30 Asia/Shanghai: recompute the per-customer figures segments read.
    "customers-refresh-customer-stats": {
        "task": "customers.tasks.refresh_customer_stats",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 3600},
    },
    # Every night at 03:10 Asia/Shanghai: remove expired login sessions.
    "crm-clear-expired-sessions": {
        "task": "crm.tasks.clear_expired_sessions",
        "schedule": crontab(hour=3, minute=10),
        "options": {"expires": 3600},
    },
    # Every 5 minutes, round the clock: flag complaints whose response or closing clock has run out
    # and e-mail each breach to the next level once (complaints/services.py complaints_flag_breaches).
    "complaints-check-breaches": {
        "task": "complaints.tasks.complaints_check_breaches",
        "schedule": crontab(minute="*/5"),
        "options": {"expires": 4 * 60},
    },
    # Every night at 00:30 Asia/Shanghai: generate the day's follow-up tasks of every store, catching
    # up every day missed since the last run (one task per store, per rule for big stores).
    "followups-generate": {
        "task": "followups.tasks.generate_followups",
        "schedule": crontab(hour=0, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # Every 10 minutes from 09:00 to 19:50: send each store's due SMS (sending stops at 20:00).
    "followups-send-sms": {
        "task": "followups.tasks.dispatch_sms",
        "schedule": crontab(minute="*/10", hour="9-19"),
        "options": {"expires": 9 * 60},
    },
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Product settings ------------------------------------------------------------------------
DEMO_MODE = env_bool("DEMO_MODE", False)

# --- Follow-ups and SMS (followups/) -------------------------------------------------------------
# SMS_GATEWAY: file (default, writes SMS_FILE_GATEWAY_DIR/sent.jsonl), console, http or a dotted path.
SMS_GATEWAY = env_str("SMS_GATEWAY", "file")
SMS_FILE_GATEWAY_DIR = env_str("SMS_FILE_GATEWAY_DIR", str(BASE_DIR / "var" / "sms"))
SMS_GATEWAY_URL = env_str("SMS_GATEWAY_URL", "")
SMS_GATEWAY_TOKEN = env_str("SMS_GATEWAY_TOKEN", "")
SMS_GATEWAY_RATE_PER_SECOND = env_int("SMS_GATEWAY_RATE_PER_SECOND", 0, minimum=0)
# Dotted path of f(*, agent, number, customer) that dials through the call centre's CTI system;
# empty: the call button opens a tel: link.
FOLLOWUP_CTI_DIALER = env_str("FOLLOWUP_CTI_DIALER", "")
# Token the provider sends (header X-Sms-Token) with inbound replies; no token, no inbound endpoint.
SMS_INBOUND_TOKEN = env_str("SMS_INBOUND_TOKEN", "")
# Sending hours, local time: "09:00-20:00" by default.
SMS_SEND_WINDOW = env_str("SMS_SEND_WINDOW", "09:00-20:00")
# A message being sent is leased for this long; after a crash it is retried once the lease lapses.
SMS_SEND_LEASE_SECONDS = env_int("SMS_SEND_LEASE_SECONDS", 300, minimum=1)
# Stores with more vehicles than this get one generation task per rule instead of one per store.
FOLLOWUP_SPLIT_VEHICLES = env_int("FOLLOWUP_SPLIT_VEHICLES", 200_000, minimum=1)
# The most days the nightly job catches up after an outage.
FOLLOWUP_CATCH_UP_DAYS = env_int("FOLLOWUP_CATCH_UP_DAYS", 31, minimum=1)

# --- Bulk writes (crm/bulk.py) -------------------------------------------------------------------
# A write of at least this many rows that also at least doubles a table (a dealer group's first DMS
# import) takes the table and builds its indexes once afterwards; other sessions wait for the table
# meanwhile. 0: never, every write goes row by row.
BULK_LOAD_MINIMUM_ROWS = env_int("BULK_LOAD_MINIMUM_ROWS", 50_000, minimum=0)

# --- Complaints (complaints/) --------------------------------------------------------------------
# The address staff open the CRM at, for the links in complaint e-mails.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
