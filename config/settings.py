"""Elonara settings: every value comes from the environment, read here and only here.

Each variable is documented in `.env.example` and the README. With `DEBUG=false` (the
default) the secrets below have no defaults, so a production process missing one fails at
start-up instead of running with a known key.
"""

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)

# Production (DEBUG=false) refuses to start while any of these is unset, naming every missing one
# at once (an operator fixes the environment in one go instead of one restart per variable).
# FIELD_ENCRYPTION_KEYS is enforced by the bluesky.E001 system check, which `make serve` runs.
REQUIRED_IN_PRODUCTION = ("SECRET_KEY", "ALLOWED_HOSTS")
if not DEBUG:
    _missing = [name for name in REQUIRED_IN_PRODUCTION if not env.str(name, default="").strip()]
    if _missing:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            "Production settings (DEBUG=false) need these environment variables: "
            + ", ".join(_missing) + ". See .env.example."
        )

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
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_prometheus",
    "health_check",
    "members",
    "elonara",
    "bluesky",
    "invitations",
    "notifications",
    "network",
    "feeds",
    "pages",  # last: its table (pages.table) names the models of every app above
]

MIDDLEWARE = [
    # First and last: request counts and latencies by view (django-prometheus).
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # Gives every request an id (X-Request-ID response header, log lines, Sentry tag).
    "config.observability.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Pages and API answers compressed (static files come compressed from WhiteNoise, above it).
    # BREACH needs a secret repeated in a compressed body beside text an attacker controls: the
    # only one in our pages is the CSRF token, which Django masks afresh on every request.
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # Django's, with the signed-in member's row read from the cache (members.middleware).
    "members.middleware.CachedAuthenticationMiddleware",
    # The language of the answer: the member's setting first, so after authentication (core.i18n).
    "core.i18n.LanguageMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # An application error a page view did not handle: an error page with its status, not a 500.
    "core.pages.ApplicationErrorMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "core.headers.ContentSecurityPolicyMiddleware",
    "core.headers.PermissionsPolicyMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "core.context_processors.site_urls",
            ],
            # core is a package, not an app: its tags are named here.
            "libraries": {"forms_tags": "core.templatetags.forms_tags"},
            # Django's cached loader, with constant {% translate %} and {% url %} tags kept.
            "loaders": [("core.template_constants.Loader", ["django.template.loaders.filesystem.Loader",
                                                             "django.template.loaders.app_directories.Loader"])],
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
    # Several processes (web + worker + beat + firehose consumer) share the file: wait for locks
    # instead of failing. Write-ahead log: readers never wait for a writer, and a commit appends to
    # the log with no fsync of the database file (synchronous=NORMAL is safe from corruption in WAL;
    # a power cut may lose the last commits). The firehose consumer's commits cost 1/3 as much.
    DATABASES["default"].setdefault("OPTIONS", {}).update({
        "timeout": 20, "transaction_mode": "IMMEDIATE",
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"})
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # A database host that does not answer fails fast (readiness checks, start-up) instead of hanging.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", 5)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "members.Member"

REDIS_URL = env("REDIS_URL", default="")

# Redis that does not answer within these (connecting, or any reply: a frozen or overloaded server)
# counts as down for CACHE_RETRY_SECONDS: pages render from the database meanwhile (core.cache).
CACHE_CONNECT_TIMEOUT_SECONDS = env.float("CACHE_CONNECT_TIMEOUT_SECONDS", default=0.5)
CACHE_READ_TIMEOUT_SECONDS = env.float("CACHE_READ_TIMEOUT_SECONDS", default=1.0)
CACHE_RETRY_SECONDS = env.float("CACHE_RETRY_SECONDS", default=2.0)
_redis_timeouts = {"socket_connect_timeout": CACHE_CONNECT_TIMEOUT_SECONDS,
                   "socket_timeout": CACHE_READ_TIMEOUT_SECONDS}

# The cache of pages may live in a Redis of its own that evicts (maxmemory + allkeys-lru: README,
# "Memory"); REDIS_URL then keeps what must never be evicted (write budgets, locks, and the broker
# by default). Unset: both on REDIS_URL.
CACHE_URL = env("CACHE_URL", default=REDIS_URL)

if REDIS_URL:
    CACHES = {
        # Kept pages and parts, sessions (written through to the database), kept member rows, rate
        # limits: misses and dropped writes while Redis is away, never a 500 (core.cache).
        "default": {"BACKEND": "core.cache.FailSoftRedisCache", "LOCATION": CACHE_URL,
                    "OPTIONS": {**_redis_timeouts, "retry_seconds": CACHE_RETRY_SECONDS,
                                # Kept pages and parts compressed: several times less memory.
                                "serializer": "core.cache.CompressingSerializer"}},
        # State that must outlive an outage and never be left behind: the write budgets and their
        # locks (bluesky.budget). Errors here raise; their callers wait and try again.
        "state": {"BACKEND": "core.cache.ReusingRedisCache", "LOCATION": REDIS_URL, "OPTIONS": _redis_timeouts},
    }
    # Sessions read from Redis (written through to the database): one query less per signed-in page.
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
else:
    # The database cache is shared by every process on the default SQLite setup.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "elonara_cache"},
              "state": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "elonara_cache"}}

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
    # A lost worker's unacknowledged tasks (killed, machine gone) come back once they are older than
    # the visibility timeout, at the next "restore" sweep a running worker makes. kombu sweeps every
    # unacked_restore_interval x unacked_restore_throttle seconds (10 x 10 = 100 s by default: the
    # ~95-100 s an operator sees with a short timeout); throttle 1 makes the interval the only control.
    # So redelivery takes between CELERY_VISIBILITY_TIMEOUT and that + CELERY_UNACKED_RESTORE_INTERVAL.
    # Keep the timeout above the longest task and the longest countdown (ETA tasks wait unacknowledged).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT", default=3600),
        "unacked_restore_interval": env.int("CELERY_UNACKED_RESTORE_INTERVAL", default=10),
        "unacked_restore_throttle": 1,
        # An unreachable or frozen broker fails a publish in a second instead of hanging the
        # request; what was to be published waits in the database for the next dispatch round.
        "socket_connect_timeout": CACHE_CONNECT_TIMEOUT_SECONDS,
        # Above the worker's 1 s BRPOP, well below a request's patience.
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT_SECONDS", default=2.0),
    }
    # A publish that fails is tried once more, quickly, then given up (core.tasks logs it): a frozen
    # broker costs a request a few seconds per publish, never a hang or a 500.
    CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2,
                                        "interval_max": 0.5}
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE = {
    "bluesky-oauth-requests-cleanup": {"task": "bluesky.tasks.oauth_requests_cleanup_task", "schedule": 600.0},
    # Series occurrences are made ahead for a window (elonara.series.SERIES_WINDOW); this keeps it full.
    "elonara-extend-series": {"task": "elonara.extend_series", "schedule": 3600.0},
    # Network events that ended more than a day ago go; the table is trimmed to NETWORK_EVENTS_MAX.
    "network-events-cleanup": {"task": "network.cleanup", "schedule": 900.0},
    # Every write to Bluesky waits in the database (Invitation.due_at, RecordWrite.due_at), never in
    # countdown messages: this claims the due ones in small batches and publishes only work due
    # within the dispatch horizon. A message the broker lost (a restart without persistence, a
    # killed worker) is published again when its lease ends: no separate "requeue stale" sweep.
    "bluesky-dispatch-due": {"task": "bluesky.dispatch_due",
                             "schedule": float(env.int("INVITATIONS_DISPATCH_INTERVAL_SECONDS", default=10))},
    # Mail waits in the database (reminders a day ahead, retries after a temporary SMTP refusal):
    # this claims what is due and hands it to workers in batches.
    # Members' faces (Bluesky name and avatar, bluesky.profiles): each read again once a day; the
    # hourly round takes only those older than that.
    "bluesky-member-profiles": {"task": "bluesky.member_profiles_refresh", "schedule": 3600.0},
    "notifications-dispatch-due": {"task": "notifications.dispatch_due",
                                   "schedule": float(env.int("NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS", default=10))},
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
# English first, then Bluesky's largest language communities (issue 39). Chosen per request by
# core.i18n.LanguageMiddleware: the member's setting, the footer menu's cookie, Accept-Language.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", "English"),
    ("ja", "日本語"),
    ("pt-br", "Português (Brasil)"),
    ("de", "Deutsch"),
    ("es", "Español"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our formats first (the named formats of event times, config/formats), then Django's.
FORMAT_MODULE_PATH = ["config.formats"]
LANGUAGE_COOKIE_NAME = "elonara_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
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
# Object storage, any S3-compatible service (AWS, Cloudflare R2, MinIO, Garage, Backblaze, ...):
# setting a bucket turns it on and replaces MEDIA_STORAGE_BACKEND/OPTIONS.
MEDIA_S3_BUCKET = env("MEDIA_S3_BUCKET", default="")
if MEDIA_S3_BUCKET:
    # Public: plain URLs, objects uploaded "public-read" (MEDIA_S3_ACL; empty for services that
    # use a bucket policy instead of ACLs). Not public: signed URLs that expire; a link card
    # fetched after the expiry loses its image, so public is what most sites want.
    MEDIA_S3_PUBLIC = env.bool("MEDIA_S3_PUBLIC", default=True)
    MEDIA_STORAGE_BACKEND = "storages.backends.s3.S3Storage"
    MEDIA_STORAGE_OPTIONS = {
        "bucket_name": MEDIA_S3_BUCKET,
        "endpoint_url": env("MEDIA_S3_ENDPOINT_URL", default="") or None,  # empty: AWS
        "region_name": env("MEDIA_S3_REGION", default="") or None,
        # Empty: boto3's own chain (instance role, AWS_* variables, ~/.aws).
        "access_key": env("MEDIA_S3_ACCESS_KEY_ID", default="") or None,
        "secret_key": env("MEDIA_S3_SECRET_ACCESS_KEY", default="") or None,
        "custom_domain": env("MEDIA_S3_CUSTOM_DOMAIN", default="") or None,  # a CDN in front, public only
        "addressing_style": env("MEDIA_S3_ADDRESSING_STYLE", default="") or None,  # "path" for most self-hosted
        "location": env("MEDIA_S3_PREFIX", default=""),
        "querystring_auth": not MEDIA_S3_PUBLIC,
        "querystring_expire": env.int("MEDIA_S3_URL_EXPIRY_SECONDS", default=3600),
        "signature_version": "s3v4",  # signed URLs: SigV4 (V2 is refused by most services now)
        "default_acl": (env("MEDIA_S3_ACL", default="public-read") or None) if MEDIA_S3_PUBLIC else None,
        "file_overwrite": False,
        # Stored names are random and never reused: the object at a URL never changes.
        "object_parameters": {"CacheControl": "public, max-age=604800, immutable"},
    }
# Django itself serves MEDIA_URL from MEDIA_ROOT. On by default whenever files are on this
# machine's disk (`make run`, `make serve`, the systemd units): nothing else would serve them.
# Set it false when a front web server serves MEDIA_ROOT; object storage serves its own URLs.
_MEDIA_ON_LOCAL_DISK = MEDIA_STORAGE_BACKEND == "django.core.files.storage.FileSystemStorage"
SERVE_MEDIA = env.bool("SERVE_MEDIA", default=_MEDIA_ON_LOCAL_DISK)
# Largest cover image upload accepted (bytes); it is re-encoded and resized before storage.
ELONARA_COVER_MAX_UPLOAD_BYTES = env.int("ELONARA_COVER_MAX_UPLOAD_BYTES", default=10 * 1024 * 1024)
# Largest cover accepted in pixels (width × height), read from the file's header before decoding:
# a decoded PNG or WebP costs up to 4 bytes a pixel whatever its file size, twice while an image
# with transparency is resized (24 MP: ~200 MB at peak; a JPEG is decoded at reduced scale).
ELONARA_COVER_MAX_PIXELS = env.int("ELONARA_COVER_MAX_PIXELS", default=24_000_000)

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
# --- Rate limits --------------------------------------------------------------------------
# "<attempts>/<seconds>", counted per client address and per member, across processes (cache).


def _rate_limit(name: str, default: str) -> tuple[int, int]:
    count, _, seconds = env(f"RATE_LIMIT_{name.upper()}", default=default).partition("/")
    return int(count), int(seconds)


RATE_LIMITS = {
    # Connect / "Continue with Bluesky" starts: each makes a PAR at a server of the member's choosing.
    "bluesky_start": _rate_limit("bluesky_start", "20/600"),
    # App-password saves: each is a createSession at a server of the member's choosing.
    "app_password": _rate_limit("app_password", "5/600"),
    "invitations": _rate_limit("invitations", "30/3600"),
    "api": _rate_limit("api", "600/600"),
    "api_token": _rate_limit("api_token", "30/600"),
    # Password reset requests, per address and per email address asked for (each may send a mail).
    "password_reset": _rate_limit("password_reset", "5/900"),
    # "Send the confirmation link again".
    "email_confirmation": _rate_limit("email_confirmation", "5/3600"),
    # Pasted event links: each resolves an identity and reads a record at a server the link names.
    "network_paste": _rate_limit("network_paste", "30/600"),
    "network_report": _rate_limit("network_report", "20/3600"),
    # Cover image uploads per member (events and communities): each is a decode and a stored file.
    "cover_upload": _rate_limit("cover_upload", "20/3600"),
    # Messages to an event's guests, per host (or co-host) and event: each is a mail to many.
    "host_message": _rate_limit("host_message", "3/3600"),
    # Reads of events' Bluesky conversations, site-wide (each event refreshes at most every 2 minutes).
    "conversation": _rate_limit("conversation", "120/60"),
    # Failed password logins (the site's and the admin's), per address and per username tried.
    "login": _rate_limit("login", "10/900"),
}

REST_FRAMEWORK = {
    # Elonara API tokens (scripts, apps) first, so a refused token answers 401 with a challenge.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "members.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "members.authentication.TokenPermission",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["members.authentication.ApiRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # Application errors become {"error", "message"} with their status, in one place.
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    # The OpenAPI description at /api/schema/ and /api/docs/ (config/openapi.py).
    "DEFAULT_SCHEMA_CLASS": "config.openapi.ElonaraAutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Elonara API",
    "VERSION": "1",
    # 3.1: "null or an object" is said in JSON Schema's own words (3.0's `nullable` beside a $ref is ambiguous).
    "OAS_VERSION": "3.1.0",
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "PREPROCESSING_HOOKS": ["config.openapi.only_versioned_paths"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"EventStatusEnum": "elonara.models.Event.Status",
                            "RsvpStatusEnum": "elonara.models.RSVP.Status",
                            "SeriesKindEnum": "elonara.models.EventSeries.Kind"},
    # Swagger UI and Redoc from drf-spectacular-sidecar, served as our own static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security (production) --------------------------------------------------------------
# Error reports (500 pages, admin e-mails) never show a token, code, verifier, app password or key.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.error_reports.SecretScrubbingReporterFilter"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# Links to other sites carry our origin only, never a path (an invitation token is in some paths).
SECURE_REFERRER_POLICY = "strict-origin-when-cross-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
# Features no page of ours uses, turned off for the page and anything it embeds (core.headers).
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), browsing-topics=()"

# Content-Security-Policy (django-csp): scripts and styles only from our own files, none inline
# (templates carry no <script> body, <style> or style="": a browser test reads every page for
# violations). Images may come from any https host: Bluesky avatars and link-card images live on
# each account's own servers and CDNs. Forms post to us; "Continue with Bluesky" then redirects to
# the account's authorization server, any https origin, and browsers apply form-action to that
# redirect too. Over plain http only when AT Protocol hosts may be (a local test network; added per
# response by core.headers.ContentSecurityPolicyMiddleware).
# Covers from object storage: its endpoint may be plain http (a MinIO on the private network).
_MEDIA_ORIGIN = ["{0.scheme}://{0.netloc}".format(urlsplit(url)) for url in
                 (MEDIA_URL, MEDIA_STORAGE_OPTIONS.get("endpoint_url") or "") if "://" in url]
CONTENT_SECURITY_POLICY: dict[str, Any] | None = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:", *_MEDIA_ORIGIN,
                    *env.list("CSP_EXTRA_IMG_SRC", default=[])],
        "connect-src": [SELF],
        "font-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF, "https:"],
        **({"report-uri": env("CSP_REPORT_URI")} if env("CSP_REPORT_URI", default="") else {}),
    },
}
# Trying a stricter policy out: CSP_REPORT_ONLY=true sends the same policy as report-only.
if env.bool("CSP_REPORT_ONLY", default=False):
    CONTENT_SECURITY_POLICY_REPORT_ONLY, CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY, None
if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # Probes and the metrics scraper reach the web port directly, over http.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
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
# Least privilege: sign in, create posts (and delete them: an event's announcement post goes with
# the event when the host asks), read followers/follows through the App View, read who blocks or
# is blocked or muted by the member (profiles' viewer state, their blocks and mutes: what the
# picker and "Upcoming" leave out), and write the member's own calendar event and RSVP records.
BLUESKY_OAUTH_SCOPE = env(
    "BLUESKY_OAUTH_SCOPE",
    default=(
        "atproto repo:app.bsky.feed.post?action=create&action=delete blob:image/* "
        "rpc:app.bsky.graph.getFollowers?aud=* rpc:app.bsky.graph.getFollows?aud=* "
        "rpc:app.bsky.actor.getProfiles?aud=* rpc:app.bsky.graph.getBlocks?aud=* rpc:app.bsky.graph.getMutes?aud=* "
        "repo:community.lexicon.calendar.event repo:community.lexicon.calendar.rsvp"
    ),
)
# The longest time an authorization server keeps our jwks.json (the official PDS: 600 s). A rotated
# client key is published at once and signs only this long after, so no server refuses it.
BLUESKY_JWKS_CACHE_SECONDS = env.int("BLUESKY_JWKS_CACHE_SECONDS", default=900)
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
# Outside answers (other apps' RSVPs read from the firehose) kept per event, at most: the page
# shows them with their count; beyond it, new ones are not kept (untrusted input).
ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT = env.int("ELONARA_OUTSIDE_RSVPS_MAX_PER_EVENT", default=500)
INVITATIONS_DAILY_CAP_PER_HOST = env.int("INVITATIONS_DAILY_CAP_PER_HOST", default=200)
# Hosts who joined less than INVITATIONS_NEW_HOST_DAYS ago get the smaller daily cap.
INVITATIONS_DAILY_CAP_NEW_HOST = env.int("INVITATIONS_DAILY_CAP_NEW_HOST", default=20)
INVITATIONS_NEW_HOST_DAYS = env.int("INVITATIONS_NEW_HOST_DAYS", default=14)
# Nobody gets more than this many Elonara invitations in 7 days, from all hosts together.
INVITATIONS_WEEKLY_CAP_PER_RECIPIENT = env.int("INVITATIONS_WEEKLY_CAP_PER_RECIPIENT", default=3)
# The relay account's own post budget, shared by every host it posts for (never above Bluesky's
# write limits: the smaller of the two applies).
INVITATIONS_RELAY_POSTS_PER_HOUR = env.int("INVITATIONS_RELAY_POSTS_PER_HOUR", default=100)
INVITATIONS_RELAY_POSTS_PER_DAY = env.int("INVITATIONS_RELAY_POSTS_PER_DAY", default=500)
# The broker only holds writes (invitations, records) due within this many seconds (keep it well
# below CELERY_VISIBILITY_TIMEOUT); the beat claims at most INVITATIONS_DISPATCH_BATCH rows per batch.
INVITATIONS_DISPATCH_HORIZON_SECONDS = env.int("INVITATIONS_DISPATCH_HORIZON_SECONDS", default=60)
INVITATIONS_DISPATCH_BATCH = env.int("INVITATIONS_DISPATCH_BATCH", default=50)
# A published or running write is left alone this long; after it (a lost message, a killed worker)
# the dispatcher publishes it again. Above the longest write attempt.
BLUESKY_WRITE_LEASE_SECONDS = env.int("BLUESKY_WRITE_LEASE_SECONDS", default=600)
# createSession for an app password (Bluesky: 30 per 5 minutes, 300 per day per account), kept
# under Bluesky's limits by our own count per account.
BLUESKY_CREATE_SESSION_PER_5_MIN = env.int("BLUESKY_CREATE_SESSION_PER_5_MIN", default=25)
BLUESKY_CREATE_SESSION_PER_DAY = env.int("BLUESKY_CREATE_SESSION_PER_DAY", default=250)
# Pace invitation posts to the write budget above (off only for benchmarks against a local PDS).
INVITATIONS_PACING_ENABLED = env.bool("INVITATIONS_PACING_ENABLED", default=True)

# --- Email ------------------------------------------------------------------------------
# One URL names the mail backend (django-environ's email_url): smtp://user:pass@host:25,
# smtp+tls://user:pass@host:587 (STARTTLS), smtp+ssl://...:465, consolemail://, filemail:///path.
# Unset under DEBUG (`make run`): each mail is written as a file under var/mail/. Unset (or a
# console/file/memory backend) in production while EMAIL_ENABLED: the notifications.E001 check
# refuses to start, since password reset and event mail would silently go nowhere.
EMAIL_ENABLED = env.bool("EMAIL_ENABLED", default=True)
EMAIL_URL = env("EMAIL_URL", default="")
if EMAIL_URL:
    _email = env.email_url_config(EMAIL_URL)
    EMAIL_BACKEND = _email["EMAIL_BACKEND"]
    EMAIL_HOST = _email["EMAIL_HOST"] or "localhost"
    EMAIL_PORT = _email["EMAIL_PORT"] or 25
    EMAIL_HOST_USER = _email["EMAIL_HOST_USER"] or ""
    EMAIL_HOST_PASSWORD = _email["EMAIL_HOST_PASSWORD"] or ""
    EMAIL_USE_TLS = _email.get("EMAIL_USE_TLS", False)
    EMAIL_USE_SSL = _email.get("EMAIL_USE_SSL", False)
    # filemail://var/mail-style relative paths are relative to the project, not the working directory.
    EMAIL_FILE_PATH = str(BASE_DIR / _email["EMAIL_FILE_PATH"]) if _email["EMAIL_FILE_PATH"] else str(
        BASE_DIR / "var" / "mail")
elif DEBUG:
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    EMAIL_FILE_PATH = str(BASE_DIR / "var" / "mail")
else:
    # Production without EMAIL_URL: nothing can be delivered; notifications.E001 stops start-up.
    EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
# An SMTP server that does not answer fails a send in seconds (the mail is retried later).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=20)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="Elonara <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Reset links work this long (seconds) and only once (Django's token changes with the password).
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 3600)
# Address confirmation links work this long (seconds).
EMAIL_CONFIRMATION_MAX_AGE = env.int("EMAIL_CONFIRMATION_MAX_AGE", default=3 * 86400)
# Event reminders go this many hours before the start.
NOTIFICATIONS_REMINDER_HOURS = env.int("NOTIFICATIONS_REMINDER_HOURS", default=24)
# Mail waits in the database (notifications.Mail.due_at); beat claims due rows this often, this many
# per batch (one SMTP connection per batch). A claimed mail whose sender died is claimed again once
# the lease is over: keep it above the time one batch takes to send.
NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS = env.int("NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS", default=10)
NOTIFICATIONS_DISPATCH_BATCH = env.int("NOTIFICATIONS_DISPATCH_BATCH", default=100)
NOTIFICATIONS_SEND_LEASE_SECONDS = env.int("NOTIFICATIONS_SEND_LEASE_SECONDS", default=600)

# --- Logging ----------------------------------------------------------------------------
LOG_LEVEL = env("LOG_LEVEL", default="INFO")
# "plain" (human-readable, the default) or "json": one JSON object per line, with the request id
# and member id of the request being served; secrets are never logged in either format.
LOG_FORMAT = env("LOG_FORMAT", default="plain")
if LOG_FORMAT not in ("plain", "json"):
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured("LOG_FORMAT must be plain or json.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "config.observability.RequestContextFilter"},
        # Private calendar feed URLs carry a secret token: it never reaches a log line.
        "redact_feed_tokens": {"()": "core.log_filters.RedactCalendarFeedTokens"},
        # Anything shaped like one of our secrets (config/sentry.py's patterns) in any line's text.
        "scrub_secrets": {"()": "config.observability.ScrubSecrets"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {
            "()": "config.observability.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT,
                    "filters": ["request_context", "redact_feed_tokens", "scrub_secrets"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # httpx/httpcore log full URLs and headers at DEBUG; keep them quiet.
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        # runserver's request lines, through the redacting handler above.
        "django.server": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # A failing check is logged by config/health.py once per change of state, not per probe.
        "health_check": {"level": "ERROR"},
    },
}

# --- Error tracking (opt-in) ------------------------------------------------------------
# Empty: nothing is sent anywhere. Set: sentry-sdk with the Django and Celery integrations,
# no personal data, and config/sentry.py scrubbing tokens, codes and keys before sending.
SENTRY_DSN = env("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env("SENTRY_ENVIRONMENT", default="production")
SENTRY_TRACES_SAMPLE_RATE = env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0)

# --- Metrics ----------------------------------------------------------------------------
# The Prometheus endpoint (/metrics) answers only requests bearing this token
# (`Authorization: Bearer <token>`); empty turns the endpoint off (404).
METRICS_TOKEN = env("METRICS_TOKEN", default="")
# prometheus_client's multi-process mode: every gunicorn worker and Celery process on a machine
# writes its numbers in this folder and /metrics adds them up. `make serve` and the systemd units
# set it; the library reads it from the environment itself, so it is only checked here.
PROMETHEUS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR", default="")
# A worker-only machine has no /metrics: its Celery worker serves them on this address
# (host:port, e.g. 10.0.0.5:9808) when set.
CELERY_METRICS_ADDR = env("CELERY_METRICS_ADDR", default="")

# --- Health -----------------------------------------------------------------------------
# Seconds each /readyz check may take before it counts as down.
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=3.0)
# /readyz/worker reports the queue as unhealthy above this many waiting tasks.
HEALTH_QUEUE_MAX_LENGTH = env.int("HEALTH_QUEUE_MAX_LENGTH", default=10000)
# /readyz/worker (behind METRICS_TOKEN): the Celery ping returns at the first worker's answer or
# after this many seconds; the answer is kept this long, so frequent probes cost one ping.
HEALTH_WORKER_PING_TIMEOUT = env.float("HEALTH_WORKER_PING_TIMEOUT", default=1.0)
HEALTH_WORKER_CACHE_SECONDS = env.float("HEALTH_WORKER_CACHE_SECONDS", default=10.0)

# --- Web server (gunicorn, read by config/gunicorn.conf.py) ------------------------------
GUNICORN_BIND = env("GUNICORN_BIND", default="127.0.0.1:8000")
# 0: two per CPU core plus one (gunicorn's advice for sync workers).
GUNICORN_WORKERS = env.int("GUNICORN_WORKERS", default=0)
GUNICORN_THREADS = env.int("GUNICORN_THREADS", default=1)
GUNICORN_TIMEOUT = env.int("GUNICORN_TIMEOUT", default=30)
# Addresses of the proxies allowed to set X-Forwarded-Proto/-For (gunicorn's forwarded_allow_ips).
FORWARDED_ALLOW_IPS = env("FORWARDED_ALLOW_IPS", default="127.0.0.1,::1")

if SENTRY_DSN:
    from config.sentry import sentry_init

    sentry_init(dsn=SENTRY_DSN, environment=SENTRY_ENVIRONMENT, traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE)

# --- Network events (events made in other AT Protocol apps) ----------------------------
# The public App View, read without credentials: a network event creator's profile; an event's
# conversation (app.bsky.feed.getPostThread, elonara.conversation).
BLUESKY_APPVIEW_URL = env("BLUESKY_APPVIEW_URL", default="https://public.api.bsky.app").rstrip("/")
# At most this many network events are kept; beyond it the clean-up drops those starting last
# and the firehose consumer stops adding new ones until there is room again.
NETWORK_EVENTS_MAX = env.int("NETWORK_EVENTS_MAX", default=200_000)
# This many distinct members reporting another app's event hide it until staff review the reports.
NETWORK_REPORTS_TO_HIDE = env.int("NETWORK_REPORTS_TO_HIDE", default=3)
# Hosts whose event-page links name the record in their path (see network/links.py).
NETWORK_EVENT_LINK_HOSTS = tuple(env.list("NETWORK_EVENT_LINK_HOSTS", default=["smokesignal.events"]))

# --- Feeds in the Bluesky app (the feed generator, feeds/) --------------------------------
# Our service DID. Empty: did:web of ELONARA_PUBLIC_URL's host, whose document we serve at
# /.well-known/did.json. A did:plc (tests, or a host that may move) must name this site as its
# #bsky_fg service itself.
FEEDS_SERVICE_DID = env("FEEDS_SERVICE_DID", default="")
# The account whose repository holds the feed records (app.bsky.feed.generator): its handle or DID
# and an app password, used only by `manage.py feeds_publish` / `feeds_withdraw`.
FEEDS_PUBLISHER_IDENTIFIER = env("FEEDS_PUBLISHER_IDENTIFIER", default="")
FEEDS_PUBLISHER_APP_PASSWORD = env("FEEDS_PUBLISHER_APP_PASSWORD", default="")
