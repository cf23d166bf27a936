"""Covers in S3-compatible object storage (issue 24), against a real S3 server on loopback.

Uploads go through the real pages and django-storages/boto3 over HTTP; the page's <img> URL is
fetched over HTTP; the bucket is listed to see what account deletion and replacement leave.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from django.utils import timezone

from elonara import services
from elonara.models import Community, Event
from members.models import Member
from tests.elonara.conftest import image_bytes, upload
from tests.s3_server import ACCESS_KEY, REGION, SECRET_KEY, s3_server_start
from tests.test_settings import PRODUCTION

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = s3_server_start(log=tmp_path_factory.mktemp("s3") / "moto.log")
    yield server
    server.stop()  # by its own PID


def _s3_storage(settings, server, *, public: bool) -> str:
    bucket = server.bucket_create(f"elonara-{secrets.token_hex(4)}")
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket, "endpoint_url": server.endpoint, "region_name": REGION,
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "addressing_style": "path",
            "querystring_auth": not public, "querystring_expire": 600, "signature_version": "s3v4",
            "default_acl": "public-read" if public else None, "file_overwrite": False,
        },
    }}
    return bucket


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


def _cover_url(page: str) -> str:
    found = re.search(r'<img class="cover" id="cover-image" src="([^"]+)"', page)
    assert found, page
    return found.group(1).replace("&amp;", "&")


@pytest.mark.parametrize("public", [True, False], ids=["public", "signed"])
def test_a_cover_uploaded_through_the_page_is_served_from_the_bucket(client, ann, settings, s3_server, public):
    bucket = _s3_storage(settings, s3_server, public=public)
    client.force_login(ann)
    response = client.post("/communities/new/", {
        "name": "Lake Swimmers", "image": upload(image_bytes("PNG"), name="swim.png"), "image_alt": "Swimmers",
    })
    assert response.status_code == 302
    url = _cover_url(client.get(response.url).content.decode())
    assert url.startswith(f"{s3_server.endpoint}/{bucket}/covers/community/")
    if public:
        assert "?" not in url
    else:
        assert "X-Amz-Signature=" in url and "X-Amz-Expires=600" in url
    assert SECRET_KEY not in url
    fetched = httpx.get(url, timeout=10)
    assert fetched.status_code == 200
    stored_key = Community.objects.get().image.name
    assert fetched.content == s3_server.client().get_object(Bucket=bucket, Key=stored_key)["Body"].read()
    assert fetched.content.startswith(b"\xff\xd8\xff")  # our re-encoded JPEG, not the PNG sent


def test_replacing_a_cover_deletes_the_old_object(client, ann, settings, s3_server,
                                                  django_capture_on_commit_callbacks):
    bucket = _s3_storage(settings, s3_server, public=True)
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=ann, title="Swim", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Lake", image=upload(image_bytes("PNG")))
    first = event.image.name
    assert s3_server.keys(bucket) == {first}
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(event=event, editor=ann, image=upload(image_bytes("JPEG"), name="b.jpg"))
    event.refresh_from_db()
    assert s3_server.keys(bucket) == {event.image.name} and event.image.name != first


def test_deleting_the_account_deletes_its_objects_from_the_bucket(client, ann, settings, s3_server,
                                                                  django_capture_on_commit_callbacks):
    bucket = _s3_storage(settings, s3_server, public=False)
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=2)
    for member in (ann, bob):
        services.event_create(host=member, title="Swim", starts_at=start, ends_at=start + timedelta(hours=1),
                              venue="Lake", image=upload(image_bytes("PNG")))
        services.community_create(creator=member, name=f"{member.username} club",
                                  image=upload(image_bytes("WEBP")))
    bobs = {Event.objects.get(host=bob).image.name, Community.objects.get(created_by=bob).image.name}
    assert len(s3_server.keys(bucket)) == 4
    client.force_login(ann)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/members/me/delete/", {"confirm_username": "ann"})
    assert response.status_code == 302
    assert s3_server.keys(bucket) == bobs


SETTINGS_PROBE = """
import django
django.setup()
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
name = default_storage.save("covers/event/probe.jpg", ContentFile(b"\\xff\\xd8\\xffprobe"))
print(type(default_storage._wrapped).__name__, name, default_storage.url(name))
# What an error report shows of the settings (the debug page, mail to ADMINS): credentials masked.
from django.views.debug import SafeExceptionReporterFilter
import sys
print(repr(SafeExceptionReporterFilter().get_safe_settings()), file=sys.stderr)
"""


@pytest.mark.parametrize("public", [True, False], ids=["public", "signed"])
def test_the_media_s3_settings_alone_configure_the_bucket(tmp_path, s3_server, public):
    # A fresh process reads MEDIA_S3_* as an operator sets them (no MEDIA_STORAGE_* at all).
    bucket = s3_server.bucket_create(f"elonara-{secrets.token_hex(4)}")
    clean = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env = {**clean, **PRODUCTION, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "MEDIA_S3_BUCKET": bucket, "MEDIA_S3_ENDPOINT_URL": s3_server.endpoint, "MEDIA_S3_REGION": REGION,
           "MEDIA_S3_ACCESS_KEY_ID": ACCESS_KEY, "MEDIA_S3_SECRET_ACCESS_KEY": SECRET_KEY,
           "MEDIA_S3_ADDRESSING_STYLE": "path", "MEDIA_S3_PUBLIC": "true" if public else "false",
           "MEDIA_S3_URL_EXPIRY_SECONDS": "900"}
    result = subprocess.run([sys.executable, "-c", SETTINGS_PROBE], cwd=Path(__file__).resolve().parents[2],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    backend, name, url = result.stdout.split()
    assert backend == "S3Storage" and name in s3_server.keys(bucket)
    assert SECRET_KEY not in result.stdout + result.stderr
    assert "MEDIA_STORAGE_OPTIONS" in result.stderr and bucket in result.stderr  # the report was printed
    assert ("X-Amz-Expires=900" in url) is not public
    assert httpx.get(url, timeout=10).content == b"\xff\xd8\xffprobe"
    head = s3_server.client().head_object(Bucket=bucket, Key=name)
    assert head["CacheControl"] == "public, max-age=604800, immutable"
