"""Media settings as a fresh process reads them: where uploads go and who serves them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.test_settings import PRODUCTION

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
name = default_storage.save("covers/event/probe.jpg", ContentFile(b"\\xff\\xd8\\xffprobe"))
client = Client(HTTP_HOST="elonara.example.org")
response = client.get("/media/" + name, secure=True)
listing = client.get("/media/covers/event/", secure=True)
print(type(default_storage._wrapped).__name__, response.status_code, listing.status_code,
      response.get("X-Content-Type-Options"), response.get("Cache-Control", "").replace(" ", ""))
"""


def _probe(tmp_path, **extra) -> subprocess.CompletedProcess:
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env = {**clean, **PRODUCTION, "MEDIA_ROOT": str(tmp_path / "media"),
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", **extra}
    return subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


def test_production_serves_local_uploads_by_default_without_listing_folders(tmp_path):
    # Issue 24: covers were 404 under `make serve` and the systemd units (DEBUG=false).
    result = _probe(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["FileSystemStorage", "200", "404", "nosniff",
                                     "public,max-age=604800,immutable"]
    assert (tmp_path / "media" / "covers" / "event" / "probe.jpg").is_file()


def test_serve_media_false_leaves_them_to_the_web_server(tmp_path):
    result = _probe(tmp_path, SERVE_MEDIA="false")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["FileSystemStorage", "404"]


def test_serve_media_lets_django_serve_them(tmp_path):
    result = _probe(tmp_path, SERVE_MEDIA="true", MEDIA_STORAGE_OPTIONS='{"file_permissions_mode": 416}')
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["FileSystemStorage", "200"]
    assert oct((tmp_path / "media" / "covers" / "event" / "probe.jpg").stat().st_mode & 0o777) == "0o640"
