"""Test settings: the production settings with test-only defaults for the required secrets."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost,app.peer.internal")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
# A fixed test-only Fernet key (secrets are encrypted in tests exactly as in production).
os.environ.setdefault("FIELD_ENCRYPTION_KEYS", "Keof7XbqthEuNqL3aTUnsmpgRkixJB_7hCEXhGq7PAQ=")
# An in-memory broker unless a test run names a real one (the services tier sets Redis): the
# filesystem default needs folders under var/ that a fresh clone does not have.
# A real SMTP backend (production refuses anything else); tests point it at their own loopback
# server (tests/mail_server.py). Nothing listens on this port, so a stray mail fails, never leaves.
os.environ.setdefault("EMAIL_URL", "smtp://127.0.0.1:9")
os.environ.setdefault("CELERY_BROKER_URL", os.environ.get("REDIS_URL") or "memory://")

from config.settings import *  # noqa: F403
from config.settings import CACHES, STORAGES

# Fast hashing: tests create many members.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Pages render without a collectstatic run (production uses the hashed manifest storage).
STORAGES = {**STORAGES, "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}

# The database cache's table is not in the test database: without Redis (fast tier) tests use
# a per-process memory cache; with REDIS_URL (services tier) the real Redis cache.
if CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "tests"}}
