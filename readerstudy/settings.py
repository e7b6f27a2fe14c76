"""Mirage settings: everything that differs between a laptop and a server comes from the environment.

Defaults are safe for local use (SQLite file under var/, DEBUG off unless asked). Production sets
MIRAGE_SECRET_KEY, MIRAGE_ALLOWED_HOSTS and DATABASE_URL; `manage.py check --deploy` passes with
MIRAGE_SECURE=1 (HTTPS-only cookies, HSTS, SSL redirect).
"""
from __future__ import annotations

import os
import tempfile
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def envbool(name: str, default: str) -> bool:
    value = os.environ.get(name, default).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ImproperlyConfigured(f"{name}={value!r}: use 1/0, true/false, yes/no or on/off")


def envint(name: str, default: str) -> int:
    value = os.environ.get(name, default)
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


DEBUG = envbool("MIRAGE_DEBUG", "0")
_DEV_KEY = "mirage-local-development-key-not-for-production-use-0123456789"
SECRET_KEY = os.environ.get("MIRAGE_SECRET_KEY", _DEV_KEY)
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("MIRAGE_ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]
CSRF_TRUSTED_ORIGINS = [o.strip() for o in os.environ.get("MIRAGE_CSRF_TRUSTED_ORIGINS", "").split(",") if o.strip()]

VAR_DIR = Path(os.environ.get("MIRAGE_VAR_DIR", BASE_DIR / "var"))
MEDIA_ROOT = Path(os.environ.get("MIRAGE_MEDIA_ROOT", VAR_DIR / "media"))
# Imported pools are copied here; readers never get a path, only per-trial tokens.
POOL_ROOT = MEDIA_ROOT / "pools"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files from a package: the API docs page needs no CDN
    "django_htmx",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "readerstudy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # last: turns a lockout into its 429 page
]

ROOT_URLCONF = "readerstudy.urls"
WSGI_APPLICATION = "readerstudy.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "readerstudy.roles.context_processor",
            ],
        },
    },
]

_default_db = f"sqlite:///{VAR_DIR / 'mirage.sqlite3'}"
if "DATABASE_URL" not in os.environ:
    VAR_DIR.mkdir(parents=True, exist_ok=True)  # the zero-setup SQLite database lives here
DATABASES = {"default": dj_database_url.parse(os.environ.get("DATABASE_URL", _default_db), conn_max_age=60,
                                              conn_health_checks=True)}
if DATABASES["default"]["ENGINE"] not in ("django.db.backends.sqlite3", "django.db.backends.postgresql",
                                          "django.contrib.gis.db.backends.postgis"):
    # readerstudy/sql.py is written for, and tested on, these two.
    raise ImproperlyConfigured(f"DATABASE_URL must name SQLite or PostgreSQL, not {DATABASES['default']['ENGINE']}.")
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets readers and the writer work at once; IMMEDIATE avoids "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 600  # reopening SQLite and its PRAGMAs costs ~5 ms a request
    # Tests use a file, not shared-cache memory, so the live server's threads and the test can both write.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"mirage-test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
# Brute-force protection (django-axes) on every login: /accounts/login/, /admin/login/ and /api/token/.
# A username is locked out from one IP address after MIRAGE_LOGIN_FAILURE_LIMIT failures in a row, for
# MIRAGE_LOGIN_COOLOFF_MINUTES; a successful login resets its count. Behind a proxy every client shares
# the proxy's address, so there the lock falls on the username alone.
AUTHENTICATION_BACKENDS = ["axes.backends.AxesStandaloneBackend", "django.contrib.auth.backends.ModelBackend"]
AXES_FAILURE_LIMIT = envint("MIRAGE_LOGIN_FAILURE_LIMIT", "10")
AXES_COOLOFF_TIME = timedelta(minutes=envint("MIRAGE_LOGIN_COOLOFF_MINUTES", "15"))
if AXES_FAILURE_LIMIT < 1 or AXES_COOLOFF_TIME <= timedelta(0):
    raise ImproperlyConfigured("MIRAGE_LOGIN_FAILURE_LIMIT and MIRAGE_LOGIN_COOLOFF_MINUTES must be at least 1.")
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # the lock lasts the cool-off from the last counted failure
AXES_HTTP_RESPONSE_CODE = 429
AXES_COOLOFF_MESSAGE = (f"Too many failed logins for this account from your address: try again in "
                        f"{int(AXES_COOLOFF_TIME.total_seconds() // 60)} minutes.")

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and envbool("MIRAGE_MANIFEST_STATIC", "0")
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Where the canonical copies readers receive are kept (readerstudy/storage.py). "filesystem": under
# MEDIA_ROOT/canonical/ (several hosts share that folder). "s3": in MIRAGE_S3_BUCKET on an S3-compatible
# service (MIRAGE_S3_ENDPOINT_URL for one that is not AWS, MIRAGE_S3_REGION), with credentials from the
# usual AWS variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) or the host's role. Either way the app
# streams the bytes itself: a reader never gets a storage URL.
MEDIA_STORAGE = os.environ.get("MIRAGE_STORAGE", "filesystem").strip().lower()
if MEDIA_STORAGE == "s3":
    from botocore.config import Config as _S3Config

    if not os.environ.get("MIRAGE_S3_BUCKET", "").strip():
        raise ImproperlyConfigured("MIRAGE_STORAGE=s3 needs MIRAGE_S3_BUCKET, the bucket's name.")
    STORAGES["default"] = {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
        "bucket_name": os.environ["MIRAGE_S3_BUCKET"].strip(),
        "endpoint_url": os.environ.get("MIRAGE_S3_ENDPOINT_URL", "").strip() or None,
        "region_name": os.environ.get("MIRAGE_S3_REGION", "").strip() or None,
        "default_acl": None,  # the bucket's own policy: private
        "file_overwrite": True,  # a copy is rewritten under its key, never renamed
        # An image request waits on the bucket: a stalled one fails within seconds and the page retries.
        "client_config": _S3Config(connect_timeout=5, read_timeout=10, retries={"mode": "standard"}),
    }}
elif MEDIA_STORAGE != "filesystem":
    raise ImproperlyConfigured(f"MIRAGE_STORAGE={MEDIA_STORAGE!r}: use filesystem (the default) or s3.")

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first, so an unauthenticated script gets 401 with a WWW-Authenticate header.
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # Bodies nested too deep, or holding a NUL character, are a 400 (readerstudy/api/parsers.py).
    "DEFAULT_PARSER_CLASSES": [
        "readerstudy.api.parsers.JSONParser",
        "readerstudy.api.parsers.FormParser",
        "readerstudy.api.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "readerstudy.api.pagination.Pagination",  # ?limit at most 500
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Mirage API",
    "DESCRIPTION": "Reader studies of synthetic medical images: pools, studies, readers, trials, responses.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "ImageClassEnum": "readerstudy.models.pool.ImageClass",
        "ReaderAnswerEnum": [("real", "real"), ("synthetic", "synthetic"), ("", "")],
    },
}

# Security: strict by default where it costs nothing locally, HTTPS-only when MIRAGE_SECURE=1.
SECURE = envbool("MIRAGE_SECURE", "0")
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE
SECURE_HSTS_SECONDS = envint("MIRAGE_HSTS_SECONDS", "31536000") if SECURE else 0
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if SECURE else None
SECURE_CONTENT_TYPE_NOSNIFF = True
# A reading page's URL holds the invitation token, so a Referer may carry the site's origin, never a path.
# Not "no-referrer": under it browsers send "Origin: null" with a form's POST, which Django's CSRF check
# refuses (the reader's questionnaire, the login page and every coordinator form would fail).
SECURE_REFERRER_POLICY = "strict-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# Background tasks (a pool's quality report): Django's Tasks framework through its backport django-tasks,
# queued in this database by django-tasks-db and run by `manage.py db_worker` (`make run` starts one beside
# gunicorn): no broker to run, and Django 6 has the same API built in. Tests keep this backend and run the
# queued tasks with the same worker, in the test's process.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# The quality report's settings for a run started from a pool's page (`python -m generation quality`'s
# options): MIRAGE_QUALITY_STAGES (comma-separated, default all), MIRAGE_QUALITY_FEATURES (frd-v1, the
# default, or original), MIRAGE_QUALITY_CNN_STEPS, MIRAGE_QUALITY_BOOTSTRAP, MIRAGE_QUALITY_WORKERS
# (processes for the radiomic features; default 1, so a report never takes every core from the web workers).
# Stage and feature names are checked when a run is started, against generation.quality's own lists.
QUALITY_STAGES = [s.strip() for s in os.environ.get("MIRAGE_QUALITY_STAGES", "").split(",") if s.strip()]
QUALITY_FEATURES = os.environ.get("MIRAGE_QUALITY_FEATURES", "frd-v1").strip()
QUALITY_CNN_STEPS = envint("MIRAGE_QUALITY_CNN_STEPS", "300")
QUALITY_BOOTSTRAP = envint("MIRAGE_QUALITY_BOOTSTRAP", "100")
QUALITY_WORKERS = envint("MIRAGE_QUALITY_WORKERS", "1")
if min(QUALITY_CNN_STEPS, QUALITY_BOOTSTRAP, QUALITY_WORKERS) < 1:
    raise ImproperlyConfigured("MIRAGE_QUALITY_CNN_STEPS, MIRAGE_QUALITY_BOOTSTRAP and MIRAGE_QUALITY_WORKERS must be "
                               "at least 1.")
# A running report whose worker has not been heard from for MIRAGE_QUALITY_STALE_MINUTES (default 30) is
# marked failed, so that a worker lost with its host or container never blocks the pool's next report. The
# worker says it is alive about once a minute, also during a stage that reports no progress for long.
QUALITY_STALE_MINUTES = envint("MIRAGE_QUALITY_STALE_MINUTES", "30")
if QUALITY_STALE_MINUTES < 1:
    raise ImproperlyConfigured("MIRAGE_QUALITY_STALE_MINUTES must be at least 1.")

# Reminders to readers: printed to the console unless an SMTP server is configured.
EMAIL_BACKEND = os.environ.get("MIRAGE_EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("MIRAGE_EMAIL_HOST", "localhost")
EMAIL_PORT = envint("MIRAGE_EMAIL_PORT", "25")
DEFAULT_FROM_EMAIL = os.environ.get("MIRAGE_FROM_EMAIL", "mirage@localhost")

# Uploaded/served image limits (decompression bombs are refused by the pool builder too).
DATA_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# Every record goes through handlers that replace invitation tokens by a keyed tag and log a refused
# request (4xx) on one line (readerstudy/logging.py). Django's own handlers for its loggers are replaced,
# so nothing reaches a handler without those filters.
_LOG_FILTERS = ["client_errors_one_line", "stopped_worker_one_line", "invitation_tokens"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "invitation_tokens": {"()": "readerstudy.logging.InvitationTokenFilter"},
        "client_errors_one_line": {"()": "readerstudy.logging.ClientErrorsOnOneLine"},
        "stopped_worker_one_line": {"()": "readerstudy.logging.StoppedWorkerOnOneLine"},
    },
    "formatters": {"django.server": {"()": "django.utils.log.ServerFormatter",
                                     "format": "[{server_time}] {message}", "style": "{"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": _LOG_FILTERS},
        "django.server": {"class": "logging.StreamHandler", "formatter": "django.server", "filters": _LOG_FILTERS},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("MIRAGE_LOG_LEVEL", "WARNING")},
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
    },
}
