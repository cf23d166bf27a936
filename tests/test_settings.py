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
