"""Production configuration: refuses to start without its secrets; `check --deploy` is clean."""

import os
import subprocess
import sys
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k" * 20 + "production-like-secret-key-for-the-check-0123456789",
    "ALLOWED_HOSTS": "elonara.example.org",
    "ELONARA_PUBLIC_URL": "https://elonara.example.org",
    "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
    "DJANGO_SETTINGS_MODULE": "config.settings",
    "EMAIL_URL": "smtp+tls://elonara:mail-password-0123@smtp.example.org:587",
    "DEFAULT_FROM_EMAIL": "Elonara <noreply@elonara.example.org>",
}


def manage(*args, env):
    # Only what a bare process has: the test run's own settings must not leak in.
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**clean, **env},
                          capture_output=True, text=True, timeout=120)


def test_production_refuses_to_start_without_secret_key():
    env = {k: v for k, v in PRODUCTION.items() if k != "SECRET_KEY"}
    result = manage("check", env=env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts():
    env = {k: v for k, v in PRODUCTION.items() if k != "ALLOWED_HOSTS"}
    result = manage("check", env=env)
    assert result.returncode != 0 and "ALLOWED_HOSTS" in result.stderr


def test_deploy_check_is_clean_with_a_production_environment():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr


def test_deploy_check_flags_missing_encryption_keys_and_insecure_hosts():
    env = {**PRODUCTION, "FIELD_ENCRYPTION_KEYS": "", "ATPROTO_ALLOW_INSECURE_HOSTS": "true"}
    result = manage("check", "--deploy", env=env)
    assert "bluesky.E001" in result.stdout + result.stderr
    assert "bluesky.W001" in result.stdout + result.stderr


def test_production_refuses_to_start_without_encryption_keys(tmp_path):
    # Not only `check --deploy`: every start-up (migrate, runserver, any command) refuses.
    env = {k: v for k, v in PRODUCTION.items() if k != "FIELD_ENCRYPTION_KEYS"}
    result = manage("migrate", env={**env, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"})
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEYS" in result.stderr and "bluesky.E001" in result.stderr


def test_production_refuses_a_key_that_is_not_a_fernet_key_without_printing_it():
    result = manage("check", env={**PRODUCTION, "FIELD_ENCRYPTION_KEYS": "not-a-fernet-key-secret-value"})
    assert result.returncode != 0 and "bluesky.E002" in result.stderr
    assert "not-a-fernet-key-secret-value" not in result.stdout + result.stderr


def test_development_starts_without_encryption_keys():
    env = {k: v for k, v in PRODUCTION.items() if k not in ("FIELD_ENCRYPTION_KEYS", "SECRET_KEY", "ALLOWED_HOSTS")}
    result = manage("check", env={**env, "DEBUG": "true"})
    assert result.returncode == 0, result.stderr


def test_beat_publishes_stale_invitations_again():
    """The one dispatcher publishes due work, and work whose message was lost once its lease ends."""
    from django.conf import settings

    from config.celery import app

    entry = next(e for e in settings.CELERY_BEAT_SCHEDULE.values() if e["task"] == "bluesky.dispatch_due")
    app.loader.import_default_modules()
    assert entry["task"] in app.tasks and entry["schedule"] <= 3600


def test_dispatch_horizon_must_be_inside_the_visibility_timeout():
    env = {**PRODUCTION, "REDIS_URL": "redis://127.0.0.1:1/0", "CELERY_VISIBILITY_TIMEOUT": "30",
           "INVITATIONS_DISPATCH_HORIZON_SECONDS": "60"}
    result = manage("check", env=env)
    assert result.returncode != 0 and "bluesky.E003" in result.stderr
    assert manage("check", env={**env, "INVITATIONS_DISPATCH_HORIZON_SECONDS": "10"}).returncode == 0


def test_production_refuses_to_start_without_a_delivering_mail_backend(tmp_path):
    db = {"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    for email_url in (None, "consolemail://", "filemail:///tmp/mail"):
        env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_URL"}
        if email_url:
            env["EMAIL_URL"] = email_url
        result = manage("migrate", env={**env, **db})
        assert result.returncode != 0 and "notifications.E001" in result.stderr, email_url
    # Mail features off: allowed to run without a backend. Development writes files under var/mail/.
    env = {k: v for k, v in PRODUCTION.items() if k != "EMAIL_URL"}
    assert manage("check", env={**env, "EMAIL_ENABLED": "false"}).returncode == 0
    assert manage("check", env={**env, "DEBUG": "true"}).returncode == 0


def test_email_url_names_the_smtp_server():
    code = ("from django.conf import settings as s; print(s.EMAIL_BACKEND, s.EMAIL_HOST, s.EMAIL_PORT, "
            "s.EMAIL_USE_TLS, s.EMAIL_HOST_USER, s.DEFAULT_FROM_EMAIL)")
    result = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=ROOT,
                            env={**{k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}, **PRODUCTION},
                            capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["django.core.mail.backends.smtp.EmailBackend", "smtp.example.org", "587",
                                     "True", "elonara", "Elonara", "<noreply@elonara.example.org>"], result.stderr
