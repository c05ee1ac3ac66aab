"""Settings for every environment, read from environment variables (see README "Configuration")."""

import datetime
import os
import re
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from csp.constants import NONCE, NONE, SELF
from django.utils.translation import gettext_lazy as _
from whitenoise.compress import Compressor

from config.env import (
    REQUIRED,
    EnvironmentVariableError,
    build_only_defaults,
    env_bool,
    env_int,
    env_list,
    env_str,
    env_url,
    running_build_command,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent

DEBUG = env_bool("DEBUG", False)
# collectstatic and compilemessages need no secret, database or Redis (config.env.BUILD_COMMANDS).
BUILD_DEFAULTS = build_only_defaults() if running_build_command() else {}
SECRET_KEY = env_str(
    "SECRET_KEY", "insecure-development-key-only-for-debug" if DEBUG else BUILD_DEFAULTS.get("SECRET_KEY")
)
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
    "django_otp",
    "crm.library_apps.TotpConfig",  # django_otp.plugins.otp_totp, with a translated name
    "crm.library_apps.AxesConfig",  # axes, with a translated name
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
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "crm.input_guard.RefuseNulCharactersMiddleware",  # after messages: a page says why
    "crm.middleware.SessionIdleTimeoutMiddleware",
    "crm.middleware.SecondFactorRequiredMiddleware",
    "crm.middleware.RateLimitMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",
    "crm.replicas.ReplicaReadsMiddleware",  # reports read from a replica when one is configured
    # Last: turns a lock-out noticed during authentication into the "account locked" page.
    "axes.middleware.AxesMiddleware",
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
                "csp.context_processors.nonce",
            ],
        },
    },
]

DATABASE_URL = env_url("DATABASE_URL", BUILD_DEFAULTS.get("DATABASE_URL", REQUIRED), schemes=("postgres", "postgresql"))
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))}
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A database that does not answer fails a request (and /healthz) within seconds instead of hanging.
DB_CONNECT_TIMEOUT = env_int("DB_CONNECT_TIMEOUT", 5, minimum=1)
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
# The reads compiled once per process are also planned once per connection by PostgreSQL
# (crm.prepared: PREPARE, then EXECUTE). Off (DB_PREPARED_STATEMENTS=0) behind a pooler that passes a
# server connection from client to client between transactions (PgBouncer's transaction mode).
DATABASE_PREPARED_STATEMENTS = env_bool("DB_PREPARED_STATEMENTS", True)
# A read replica for reports and dashboards (README, "Past one machine"): set DATABASE_REPLICA_URL
# and crm.replicas routes the reads of the pages the apps list as replica_read_views to it.
DATABASE_REPLICA_URL = env_url("DATABASE_REPLICA_URL", None, schemes=("postgres", "postgresql"))
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = dj_database_url.parse(DATABASE_REPLICA_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 60))
    DATABASES["replica"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["replica"].setdefault("OPTIONS", {}).setdefault("connect_timeout", DB_CONNECT_TIMEOUT)
# How many parallel workers PostgreSQL may start for one statement (max_parallel_workers_per_gather)
# on this process's connections. Unset: 0 in the web's processes (gunicorn, which names itself in
# SERVER_SOFTWARE before it loads the app), the server's own setting (2 by default) elsewhere. A
# page's statement is small: starting two workers for it cost 15-20 ms where the statement itself
# took 4 (a page of 50 of a million vehicles in order of insurance day, on the 2-core bench), and
# with every core already serving requests a parallel plan only adds processes to share them. Celery
# and the management commands (imports, nightly refreshes) keep the server's setting.
DB_PARALLEL_WORKERS_PER_QUERY = env_int(
    "DB_PARALLEL_WORKERS_PER_QUERY", 0 if os.environ.get("SERVER_SOFTWARE", "").startswith("gunicorn") else None,
    minimum=0,
)  # fmt: skip
if DB_PARALLEL_WORKERS_PER_QUERY is not None:
    for _database in DATABASES.values():
        _options = _database["OPTIONS"]
        _parallel = f"-c max_parallel_workers_per_gather={DB_PARALLEL_WORKERS_PER_QUERY}"
        _options["options"] = f"{_options['options']} {_parallel}" if _options.get("options") else _parallel
DATABASE_ROUTERS = ["crm.replicas.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env_url(
    "REDIS_URL", BUILD_DEFAULTS.get("REDIS_URL", REQUIRED), schemes=("redis", "rediss", "redis+socket", "unix")
)
# Redis down or slow: the cache fails open (a miss, logged) after at most REDIS_SOCKET_TIMEOUT seconds.
REDIS_SOCKET_TIMEOUT = env_int("REDIS_SOCKET_TIMEOUT", 1, minimum=1)
CACHES = {
    "default": {
        "BACKEND": "crm.cache.FailOpenRedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {"socket_connect_timeout": REDIS_SOCKET_TIMEOUT, "socket_timeout": REDIS_SOCKET_TIMEOUT},
    }
}

AUTH_USER_MODEL = "crm.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"
# Axes first: it refuses a locked-out username/address before the password is even checked.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "crm.auth_backends.StaffBackend"]
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
# collectstatic writes here (the image builds it as root, read-only at run time).
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(BASE_DIR / "var" / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}
# Source maps are read by a browser's developer tools only, never by staff's pages: not compressed.
# They are a third of the collected bytes (the API docs' bundles), and brotli, when installed, took
# most of collectstatic's 20+ s compressing them.
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (*Compressor.SKIP_COMPRESS_EXTENSIONS, "map")
# Pages name their files through {% static %}, i.e. by their hashed names: the unhashed copies are
# never asked for, and compressing them too doubled collectstatic's time (17 s on a 2-core machine
# with brotli installed, which the hook's 20 s limit and the image's build both pay).
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
# Uploads (complaint attachments, DMS files and their rejected rows): written at run time, so the
# image gives this directory to its user. Never served as plain files: /media/ goes through
# crm.views.media_file, which asks the owning app whether the user may read the file.
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
# The load balancer and the container's health check probe the app directly, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 12 * 3600, minimum=300)

# --- Health check (/healthz) -----------------------------------------------------------------
# How long /healthz waits for Redis before it reports it down.
HEALTH_CHECK_TIMEOUT_SECONDS = env_int("HEALTH_CHECK_TIMEOUT_SECONDS", 2, minimum=1)

# --- Log-in, sessions and second factor (crm/middleware.py, crm/views.py) ---------------------
# Lock-out (django-axes, attempts kept in the database): after LOGIN_FAILURE_LIMIT wrong passwords
# for one username from one address, that pair is refused for LOGIN_COOLOFF_MINUTES, on the login
# page, the admin and the API token endpoint alike. Unlock early: delete the attempt in the admin
# ("Access attempts") or `manage.py axes_reset_username USERNAME`.
LOGIN_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 5, minimum=1)
LOGIN_COOLOFF_MINUTES = env_int("LOGIN_COOLOFF_MINUTES", 15, minimum=1)
AXES_FAILURE_LIMIT = LOGIN_FAILURE_LIMIT
AXES_COOLOFF_TIME = datetime.timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "crm.views.login_locked_out"
# Behind a proxy (on with SECURE_PROXY_SSL_HEADER unless set): lock-outs and rate limits count the
# address the proxy appended to X-Forwarded-For, not the proxy's own (crm.middleware.client_ip).
CLIENT_IP_FROM_X_FORWARDED_FOR = env_bool("CLIENT_IP_FROM_X_FORWARDED_FOR", env_bool("SECURE_PROXY_SSL_HEADER", False))
AXES_CLIENT_IP_CALLABLE = "crm.middleware.client_ip"
# A session idle longer than this is logged out on its next request (activity is stamped at most
# once a minute, so a busy session is not written on every request).
SESSION_IDLE_MINUTES = env_int("SESSION_IDLE_MINUTES", 30, minimum=1)
# Managers, administrators and superusers confirm every log-in with a 6-digit TOTP code
# (django-otp); the secret is enrolled once, on their first log-in, from a QR code.
OTP_TOTP_ISSUER = env_str("OTP_TOTP_ISSUER", "Dealership CRM")
# API tokens (POST /api/token/) expire after this many hours; changing the password or
# deactivating the account deletes them at once.
API_TOKEN_TTL_HOURS = env_int("API_TOKEN_TTL_HOURS", 24 * 30, minimum=1)

# --- Erasure (customers/privacy.py) ------------------------------------------------------------
# The key of the hashes of erased customers' mobiles and VINs kept in their tombstones, which stop
# the next DMS import from bringing them back. Empty (the default): a key derived from SECRET_KEY
# once, when the database was migrated, and kept in the database (customers.ErasureHashKey), so
# rotating SECRET_KEY changes nothing. Set it only before the first erasure and never change it:
# tombstones hashed with another key no longer match.
ERASURE_HASH_KEY = env_str("ERASURE_HASH_KEY", "")
if ERASURE_HASH_KEY and len(ERASURE_HASH_KEY) < 32:
    raise EnvironmentVariableError("ERASURE_HASH_KEY is too short: use at least 32 random characters.")

# --- Rate limits (crm/middleware.py RateLimitMiddleware; counters in the cache, i.e. Redis) ----
# "N/s", "N/m" or "N/h". Log-in attempts per client address (login page, admin, API token);
# searches per user (customer list, phone look-up, API list "search"); SMS webhooks per address.
RATE_LIMIT_LOGIN = env_str("RATE_LIMIT_LOGIN", "20/m")
RATE_LIMIT_SEARCH = env_str("RATE_LIMIT_SEARCH", "60/m")
RATE_LIMIT_WEBHOOK = env_str("RATE_LIMIT_WEBHOOK", "600/m")
for _name in ("RATE_LIMIT_LOGIN", "RATE_LIMIT_SEARCH", "RATE_LIMIT_WEBHOOK"):
    if not re.fullmatch(r"[1-9][0-9]*/[smhd]", globals()[_name]):
        raise EnvironmentVariableError(
            f"{_name}={globals()[_name]!r} is not a rate: write it as 20/m (per s, m, h or d)."
        )
RATELIMIT_USE_CACHE = "default"
# A cache that cannot count (Redis down) lets requests through instead of refusing everyone.
RATELIMIT_FAIL_OPEN = True
RATELIMIT_IP_META_KEY = "crm.middleware.client_ip"
# Each entry: the URL name(s) it guards, what it counts by (ip / user_or_ip), the rate setting,
# the HTTP methods counted, optionally the query parameter that makes a request a search, and
# whether the 429 is JSON (machines) rather than a page.
RATE_LIMITS = [
    {"urls": ["login", "admin:login", "api-token"], "key": "ip", "rate": RATE_LIMIT_LOGIN, "methods": ["POST"]},
    {"urls": ["customers:list"], "key": "user_or_ip", "rate": RATE_LIMIT_SEARCH, "methods": ["GET"], "param": "q"},
    {"urls": ["customers:phone_lookup"], "key": "user_or_ip", "rate": RATE_LIMIT_SEARCH, "methods": ["POST"]},
    {
        "urls": ["followups:sms_inbound", "followups:sms_delivery"],
        "key": "ip",
        "rate": RATE_LIMIT_WEBHOOK,
        "methods": ["POST"],
        "json": True,
    },
]

# --- Content-Security-Policy (django-csp) --------------------------------------------------------
# Everything from our own origin; scripts only from files or with the per-response nonce.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

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
        "crm.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["crm.permissions.IsStaffMember"],
    "DEFAULT_FILTER_BACKENDS": [
        "crm.api.filters.CrmFilterBackend",
        "rest_framework.filters.SearchFilter",
        "crm.api.filters.StableOrderingFilter",
    ],
    "DEFAULT_PAGINATION_CLASS": "crm.api.pagination.StandardPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "crm.api.schema.CrmAutoSchema",
    "EXCEPTION_HANDLER": "crm.api.exceptions.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Searches through the API count against the same per-user limit as the pages.
    "DEFAULT_THROTTLE_CLASSES": ["crm.api.throttling.SearchRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"search": RATE_LIMIT_SEARCH},
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
    # Several models have a "kind": each choice set gets a name of its own in the schema.
    "ENUM_NAME_OVERRIDES": {
        "ClubEventKindEnum": "clubs.choices.EventKind",
        "PointsEntryKindEnum": "clubs.choices.EntryKind",
        "WalletEntryKindEnum": "clubs.choices.WalletEntryKind",
        "CampaignKindEnum": "followups.choices.CampaignKind",
    },
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
# Sweeps (complaints-send-pending-emails, followups-resume-sms) resume work whose worker died long
# before that, within a minute. A page publishing a task gives up on a dead broker within seconds.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_TASK_TIME_LIMIT + 10 * 60,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
}
CELERY_BROKER_CONNECTION_TIMEOUT = REDIS_SOCKET_TIMEOUT
CELERY_REDIS_SOCKET_CONNECT_TIMEOUT = REDIS_SOCKET_TIMEOUT  # the result backend, same Redis
# A worker whose Redis is down keeps trying to reconnect (every 30 s at most), however long it takes.
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULE = {
    # Every night at 02:30 Asia/Shanghai: recompute the per-customer figures segments read.
    "customers-refresh-customer-stats": {
        "task": "customers.tasks.refresh_customer_stats",
        "schedule": crontab(hour=2, minute=30),
        "options": {"expires": 3600},
    },
    # Every night at 02:45 Asia/Shanghai, after the customer figures: rebuild the month-end states of
    # the current and the previous month, and backfill any earlier month not built yet (流失分析).
    "customers-refresh-customer-states": {
        "task": "customers.tasks.refresh_customer_states",
        "schedule": crontab(hour=2, minute=45),
        "options": {"expires": 3600},
    },
    # Every night at 02:55 Asia/Shanghai: recount the stores' deliveries and settled repair orders
    # of the last 40 days and build any earlier day not built yet (the complaint dashboard's rates).
    "customers-refresh-store-day-volumes": {
        "task": "customers.tasks.refresh_store_day_volumes",
        "schedule": crontab(hour=2, minute=55),
        "options": {"expires": 3600},
    },
    # Every night at 03:00 Asia/Shanghai: recount the monthly satisfaction figures of the current and
    # the previous month and build any month never counted (满意度趋势; results written by other means).
    "customers-refresh-satisfaction-figures": {
        "task": "customers.tasks.refresh_satisfaction_figures",
        "schedule": crontab(hour=3, minute=0),
        "options": {"expires": 3600},
    },
    # Every evening at 23:30 Asia/Shanghai, once the workshop has closed: the day's bookings nobody
    # checked in become no-shows (expires before midnight, so a late run never marks the next day's).
    "customers-mark-appointment-no-shows": {
        "task": "customers.tasks.mark_appointment_no_shows",
        "schedule": crontab(hour=23, minute=30),
        "options": {"expires": 25 * 60},
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
    # Every night at 00:10 Asia/Shanghai, before the follow-ups read the club: join the new club
    # members, earn the repair orders imported since, raise tiers and expire points through today.
    "clubs-run": {
        "task": "clubs.tasks.run_clubs",
        "schedule": crontab(hour=0, minute=10),
        "options": {"expires": 6 * 3600},
    },
    # Every night at 00:30 Asia/Shanghai: generate the day's follow-up tasks of every store, catching
    # up every day missed since the last run (one task per store, per rule for big stores).
    "followups-generate": {
        "task": "followups.tasks.generate_followups",
        "schedule": crontab(hour=0, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # Every night at 01:30 Asia/Shanghai, after the day's generation: recount the follow-up reports'
    # per-day figures of the last 40 days from scratch (late calls, erased cards, any missed refresh).
    "followups-rebuild-report-figures": {
        "task": "followups.tasks.rebuild_report_figures",
        "schedule": crontab(hour=1, minute=30),
        "options": {"expires": 6 * 3600},
    },
    # Every minute, round the clock: e-mail the complaint notices and escalations whose send never
    # happened (broker down at intake, SMTP down past the retries) or whose worker died mid-send.
    "complaints-send-pending-emails": {
        "task": "complaints.tasks.complaints_send_pending_emails",
        "schedule": crontab(minute="*"),
        "options": {"expires": 50},
    },
    # Every 10 minutes from 09:00 to 19:50: send each store's due SMS (sending stops at 20:00).
    "followups-send-sms": {
        "task": "followups.tasks.dispatch_sms",
        "schedule": crontab(minute="*/10", hour="9-19"),
        "options": {"expires": 9 * 60},
    },
    # Every minute from 09:00 to 19:59: restart the SMS batch of every store whose worker died
    # mid-batch (a message lease lapsed), instead of waiting for the broker's redelivery.
    "followups-resume-sms": {
        "task": "followups.tasks.resume_sms",
        "schedule": crontab(minute="*", hour="9-19"),
        "options": {"expires": 50},
    },
}

# --- Logging ---------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"client_error_without_traceback": {"()": "crm.logging.ClientErrorWithoutTraceback"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's defaults give "django" its own console handler: with the root's, every record
        # (and its traceback) was printed twice. One handler, the root's.
        "django": {"handlers": [], "propagate": True},
        "django.request": {"filters": ["client_error_without_traceback"]},
        "django.db.backends": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
    },
}

# --- Product settings ------------------------------------------------------------------------
DEMO_MODE = env_bool("DEMO_MODE", False)
# Searches by phone digits (the search box and the incoming-call look-up) each user may make per
# day; each is audited as a reveal. Over it: a message and no phone results (customers/phone_search.py).
PHONE_SEARCH_DAILY_LIMIT = env_int("PHONE_SEARCH_DAILY_LIMIT", 100, minimum=0)

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
# A message being sent is leased for this long, renewed while its batch runs; after a crash the
# minutely followups-resume-sms sweep restarts the batch once the lease lapses.
SMS_SEND_LEASE_SECONDS = env_int("SMS_SEND_LEASE_SECONDS", 30, minimum=1)
# Stores with more vehicles than this get one generation task per rule instead of one per store.
FOLLOWUP_SPLIT_VEHICLES = env_int("FOLLOWUP_SPLIT_VEHICLES", 200_000, minimum=1)
# The most days the nightly job catches up after an outage.
FOLLOWUP_CATCH_UP_DAYS = env_int("FOLLOWUP_CATCH_UP_DAYS", 31, minimum=1)
# Tomorrow's queue preview (followups/queue_preview.py) shows counts made by a task up to this many
# seconds ago, with their time and a "count again" button. A count reads the rules' data of every
# store of the manager (seconds, up to 14 s for a holiday greeting to a million owners): five
# minutes keeps it to one count per group of stores and day every five minutes, however many
# managers look, while the data a preview is about (deliveries, repair orders, visits) hardly
# moves in that time; a changed rule or calendar counts afresh at once (it is part of the key).
FOLLOWUP_PREVIEW_FRESH_SECONDS = env_int("FOLLOWUP_PREVIEW_FRESH_SECONDS", 5 * 60, minimum=1)
# A count in progress renews its marker after each rule's statement; one not renewed for this long
# (its worker died, or no worker took it) is given up and the page's next poll queues it again.
# Above the slowest single statement on a busy machine (a holiday greeting, 5-14 s).
FOLLOWUP_PREVIEW_RUNNING_SECONDS = env_int("FOLLOWUP_PREVIEW_RUNNING_SECONDS", 120, minimum=1)

# --- Bulk writes (crm/bulk.py) -------------------------------------------------------------------
# A write of at least this many rows that also at least doubles a table (a dealer group's first DMS
# import) takes the table and builds its indexes once afterwards; other sessions wait for the table
# meanwhile. 0: never, every write goes row by row.
BULK_LOAD_MINIMUM_ROWS = env_int("BULK_LOAD_MINIMUM_ROWS", 50_000, minimum=0)

# --- Complaints (complaints/) --------------------------------------------------------------------
# The address staff open the CRM at, for the links in complaint e-mails.
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")
# A complaint e-mail being sent is leased for this long (keep it above a send's worst time, a few
# EMAIL_TIMEOUTs); after a crash the minutely complaints-send-pending-emails sweep sends it again.
COMPLAINT_EMAIL_LEASE_SECONDS = env_int("COMPLAINT_EMAIL_LEASE_SECONDS", 45, minimum=1)
