"""Elonara settings: every value comes from the environment, read here and only here.

Each variable is documented in `.env.example` and the README. With `DEBUG=false` (the
default) the secrets below have no defaults, so a production process missing one fails at
start-up instead of running with a known key.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-key-never-use-in-production")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
else:
    SECRET_KEY = env("SECRET_KEY")  # no default: production must set it
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")  # no default: production must set it

# The public origin of this deployment. https -> confidential OAuth client; a loopback
# http origin (http://127.0.0.1:<port>) -> the AT Protocol loopback development client.
ELONARA_PUBLIC_URL = env("ELONARA_PUBLIC_URL", default="http://127.0.0.1:8000").rstrip("/")

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[ELONARA_PUBLIC_URL])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "members",
    "elonara",
    "bluesky",
    "invitations",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Data -------------------------------------------------------------------------------
# SQLite by default so `make run` needs no server; DATABASE_URL=postgres://... for real use.
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}"),
}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web + worker) share the file: wait for locks instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "members.Member"

REDIS_URL = env("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    # The database cache is shared by every process on the default SQLite setup.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "elonara_cache"}}

# --- Celery -----------------------------------------------------------------------------
# Default broker: kombu's filesystem transport under var/, so `make run` needs no server.
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    _broker_dir = BASE_DIR / "var" / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redelivery after a lost worker waits for this visibility timeout (seconds).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "bluesky-oauth-requests-cleanup": {"task": "bluesky.tasks.oauth_requests_cleanup_task", "schedule": 600.0},
    # Invitations whose broker message was lost (a broker restart without persistence) are
    # published again; a live message and the new one converge, so this is always safe.
    "invitations-requeue-stale": {"task": "invitations.requeue_stale", "schedule": 900.0},
}

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "members:login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

# --- I18N -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "var" / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# --- Uploaded media (cover images) ----------------------------------------------------
# Files go through Django's storage API: local files under MEDIA_ROOT by default; any backend
# in production (e.g. MEDIA_STORAGE_BACKEND=storages.backends.s3.S3Storage with django-storages
# installed and MEDIA_STORAGE_OPTIONS='{"bucket_name": "..."}').
MEDIA_ROOT = Path(env("MEDIA_ROOT", default=str(BASE_DIR / "var" / "media")))
MEDIA_URL = env("MEDIA_URL", default="/media/")
MEDIA_STORAGE_BACKEND = env("MEDIA_STORAGE_BACKEND", default="django.core.files.storage.FileSystemStorage")
MEDIA_STORAGE_OPTIONS = env.json("MEDIA_STORAGE_OPTIONS", default={})
# Django itself serves MEDIA_URL from MEDIA_ROOT (development, or a small site without a
# front web server). Off in production by default: let the web server or the storage serve it.
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=DEBUG)
# Largest cover image upload accepted (bytes); it is re-encoded and resized before storage.
ELONARA_COVER_MAX_UPLOAD_BYTES = env.int("ELONARA_COVER_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)

STORAGES = {
    "default": {"BACKEND": MEDIA_STORAGE_BACKEND, "OPTIONS": MEDIA_STORAGE_OPTIONS},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
}

# --- Security (production) --------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- Bluesky / AT Protocol --------------------------------------------------------------
# Fernet keys (comma-separated, urlsafe base64); the first encrypts, all decrypt.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
# did:plc directory.
ATPROTO_PLC_URL = env("ATPROTO_PLC_URL", default="https://plc.directory").rstrip("/")
# Optional resolver service (com.atproto.identity.resolveHandle) for networks without DNS.
ATPROTO_HANDLE_RESOLVER_URL = env("ATPROTO_HANDLE_RESOLVER_URL", default="").rstrip("/")
# Off by default: allows http and loopback/private hosts, only for a local test network.
ATPROTO_ALLOW_INSECURE_HOSTS = env.bool("ATPROTO_ALLOW_INSECURE_HOSTS", default=False)
# Least privilege: sign in, create posts, read followers/follows through the App View, and write
# the member's own calendar event and RSVP records.
BLUESKY_OAUTH_SCOPE = env(
    "BLUESKY_OAUTH_SCOPE",
    default=(
        "atproto repo:app.bsky.feed.post?action=create blob:image/* "
        "rpc:app.bsky.graph.getFollowers?aud=* rpc:app.bsky.graph.getFollows?aud=* "
        "repo:community.lexicon.calendar.event repo:community.lexicon.calendar.rsvp"
    ),
)
# The App View that graph reads are proxied to (atproto-proxy header).
BLUESKY_APPVIEW = env("BLUESKY_APPVIEW", default="did:web:api.bsky.app#bsky_appview")
# Default writes mode until an admin sets one: "legacy" (app password) or "oauth".
BLUESKY_WRITES_MODE = env("BLUESKY_WRITES_MODE", default="legacy")
BLUESKY_RELAY_IDENTIFIER = env("BLUESKY_RELAY_IDENTIFIER", default="")
BLUESKY_RELAY_APP_PASSWORD = env("BLUESKY_RELAY_APP_PASSWORD", default="")
# Bluesky's write budget, used to pace invitation posts and calendar record writes per account.
BLUESKY_WRITE_POINTS_PER_HOUR = env.int("BLUESKY_WRITE_POINTS_PER_HOUR", default=5000)
BLUESKY_WRITE_POINTS_PER_DAY = env.int("BLUESKY_WRITE_POINTS_PER_DAY", default=35000)
BLUESKY_WRITE_POINTS_PER_POST = env.int("BLUESKY_WRITE_POINTS_PER_POST", default=3)
# The network's firehose (com.atproto.sync.subscribeRepos) read by `manage.py consume_firehose` to
# pick up RSVPs written in other apps: a relay (Bluesky's by default) or, in tests, a PDS.
BLUESKY_FIREHOSE_URL = env("BLUESKY_FIREHOSE_URL", default="wss://bsky.network").rstrip("/")
INVITATIONS_DAILY_CAP_PER_HOST = env.int("INVITATIONS_DAILY_CAP_PER_HOST", default=200)
# Pace invitation posts to the write budget above (off only for benchmarks against a local PDS).
INVITATIONS_PACING_ENABLED = env.bool("INVITATIONS_PACING_ENABLED", default=True)

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # Private calendar feed URLs carry a secret token: it never reaches a log line.
    "filters": {"redact_feed_tokens": {"()": "elonara.log_filters.RedactCalendarFeedTokens"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_feed_tokens"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # httpx/httpcore log full URLs and headers at DEBUG; keep them quiet.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # runserver's request lines, through the redacting handler above.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
