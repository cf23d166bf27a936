"""Cover images: what is refused, what is stored, and that the stored file is what we made."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from PIL import Image

from elonara import images, services
from elonara.errors import InvalidInputError
from elonara.models import Community, Event
from members.models import Member
from tests.elonara.conftest import image_bytes, upload

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


def _event(host, **extra):
    start = timezone.now() + timedelta(days=5)
    return services.event_create(host=host, title="Picnic", starts_at=start, ends_at=start + timedelta(hours=2),
                                 venue="Park", **extra)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "JPEG, PNG or WebP"),
        (b"%PDF-1.4 not an image at all", "JPEG, PNG or WebP"),
        (image_bytes("GIF", mode="P", color=3), "JPEG, PNG or WebP"),
        (image_bytes("BMP"), "JPEG, PNG or WebP"),
        (image_bytes("PNG", size=(120, 80)), "too small"),
        (image_bytes("PNG", size=(1000, 100)), "too small"),
        (image_bytes("PNG", size=(12_001, 400)), "too large"),
        (image_bytes("PNG", size=(7000, 7000)), "too large"),  # 49 MP
        (image_bytes("JPEG", size=(800, 420))[:600], "could not be read"),  # truncated
    ],
    ids=["empty", "svg", "pdf", "gif", "bmp", "tiny", "thin", "too-wide", "too-many-pixels", "truncated"],
)
def test_bad_files_are_refused_before_anything_is_stored(ann, media_root, data, message):
    with pytest.raises(InvalidInputError) as refused:
        _event(ann, image=upload(data))
    assert message in refused.value.message
    assert refused.value.field == "image"
    assert not Event.objects.exists()
    assert not media_root.exists() or not any(media_root.rglob("*.jpg"))


def test_a_file_over_the_byte_limit_is_refused(ann, settings):
    settings.ELONARA_COVER_MAX_UPLOAD_BYTES = 50_000
    noisy = Image.effect_noise((900, 600), 90).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="PNG")
    assert buffer.tell() > 50_000
    with pytest.raises(InvalidInputError, match="too large"):
        _event(ann, image=upload(buffer.getvalue()))


def test_upload_is_reencoded_resized_and_stored_through_the_storage_api(ann, media_root):
    # A PNG with transparency, named and typed as a JPEG by the uploader: Pillow's reading decides.
    data = image_bytes("PNG", size=(2400, 1260), mode="RGBA", color=(0, 0, 0, 0))
    event = _event(ann, image=upload(data, name="../../etc/evil.jpg", content_type="image/jpeg"),
                   image_alt="A lake at dawn")
    event.refresh_from_db()
    assert event.image.name.startswith("covers/event/") and event.image.name.endswith(".jpg")
    assert "evil" not in event.image.name
    stored = Path(media_root, event.image.name)
    assert stored.is_file()
    with Image.open(stored) as picture:
        assert picture.format == "JPEG"
        assert picture.size == (1200, 630) == (event.image_width, event.image_height)
        assert picture.getpixel((1100, 300)) == pytest.approx((255, 255, 255), abs=3)  # transparent -> white
    assert stored.stat().st_size <= images.OUTPUT_MAX_BYTES
    assert event.image_alt == "A lake at dawn"


def test_exif_orientation_is_applied_and_metadata_dropped(ann, media_root):
    picture = Image.new("RGB", (800, 400), (10, 200, 10))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to display"
    exif[0x010F] = "SecretCam"  # camera make: must not survive
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", exif=exif)
    event = _event(ann, image=upload(buffer.getvalue(), name="p.jpg", content_type="image/jpeg"))
    with Image.open(Path(media_root, event.image.name)) as stored:
        assert stored.size == (400, 800)  # upright
        assert not stored.getexif()
    assert b"SecretCam" not in Path(media_root, event.image.name).read_bytes()


def test_noisy_photo_still_fits_the_bluesky_thumb_limit(ann, media_root):
    noisy = Image.effect_noise((2400, 2400), 120).convert("RGB")
    buffer = io.BytesIO()
    noisy.save(buffer, format="JPEG", quality=95)
    assert buffer.tell() > images.OUTPUT_MAX_BYTES
    event = _event(ann, image=upload(buffer.getvalue()))
    assert Path(media_root, event.image.name).stat().st_size <= images.OUTPUT_MAX_BYTES


def test_replacing_and_removing_a_cover_deletes_old_files_after_commit(
    ann, media_root, django_capture_on_commit_callbacks
):
    event = _event(ann, image=upload(image_bytes("WEBP")))
    first = Path(media_root, event.image.name)
    assert first.is_file()
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(event=event, editor=ann, image=upload(image_bytes("JPEG"), name="b.jpg"))
    event.refresh_from_db()
    second = Path(media_root, event.image.name)
    assert second.is_file() and second != first and not first.exists()
    with django_capture_on_commit_callbacks(execute=True):
        services.event_update(event=event, editor=ann, remove_image=True)
    event.refresh_from_db()
    assert not event.image and event.image_width is None and not second.exists()


def test_a_refused_replacement_keeps_the_current_cover(ann, media_root):
    event = _event(ann, image=upload(image_bytes("PNG")))
    name = event.image.name
    with pytest.raises(InvalidInputError):
        services.event_update(event=event, editor=ann, title="Renamed", image=upload(b"nope"))
    event.refresh_from_db()
    assert event.image.name == name and event.title == "Picnic"
    assert Path(media_root, name).is_file()


def test_community_cover_through_the_pages(client, ann, media_root):
    client.force_login(ann)
    response = client.post("/communities/new/", {
        "name": "Lake Swimmers", "description": "Cold water.",
        "image": upload(image_bytes("PNG"), name="swim.png"), "image_alt": "Swimmers at a lake",
    })
    assert response.status_code == 302
    page = client.get(response.url).content.decode()
    assert 'id="cover-image"' in page and 'alt="Swimmers at a lake"' in page
    # The host edits it: a bad file shows the message on the form and changes nothing.
    bad = client.post("/communities/lake-swimmers/edit/", {"name": "Lake Swimmers", "image": upload(b"GIF89a...")})
    assert bad.status_code == 200 and "JPEG, PNG or WebP" in bad.content.decode()
    ok = client.post("/communities/lake-swimmers/edit/", {"name": "Lake Swimmers", "remove_image": "on"})
    assert ok.status_code == 302
    assert 'id="cover-image"' not in client.get(ok.url).content.decode()


def test_only_a_host_edits_a_community(client, ann):
    services.community_create(creator=ann, name="Knitters")
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123")
    client.force_login(bob)
    assert client.get("/communities/knitters/edit/").status_code == 403
    assert client.post("/communities/knitters/edit/", {"name": "Mine"}).status_code == 403


def test_event_edit_page_replaces_and_removes_the_cover(client, ann, media_root):
    event = _event(ann, image=upload(image_bytes("PNG")))
    client.force_login(ann)
    form = client.get(f"/events/{event.pk}/edit/").content.decode()
    assert 'enctype="multipart/form-data"' in form and "Remove the current image" in form
    fields = {"title": "Picnic", "starts_at": "2031-05-01T12:00", "ends_at": "2031-05-01T14:00",
              "time_zone": "UTC", "venue": "Park"}
    old = event.image.name
    assert client.post(f"/events/{event.pk}/edit/",
                       {**fields, "image": upload(image_bytes("JPEG"), name="n.jpg")}).status_code == 302
    event.refresh_from_db()
    assert event.image.name != old
    assert client.post(f"/events/{event.pk}/edit/", {**fields, "remove_image": "on"}).status_code == 302
    event.refresh_from_db()
    assert not event.image
    assert "Remove the current image" not in client.get(f"/events/{event.pk}/edit/").content.decode()


# --- Hostile files (issue 24): pixel budget, metadata in every place an encoder may copy it ------


def test_the_issue_png_6300_square_is_refused_before_decoding(ann, media_root, monkeypatch):
    # 6300×6300 RGBA is ~159 MB decoded; its compressed file is tiny. Refused from the header alone.
    data = image_bytes("PNG", size=(6300, 6300), mode="RGBA", color=(0, 0, 0, 0))
    assert len(data) < 300_000

    def no_decoding(self, *args, **kwargs):
        raise AssertionError("decoded a file that the header already refuses")

    monkeypatch.setattr(Image.Image, "load", no_decoding)
    with pytest.raises(InvalidInputError) as refused:
        _event(ann, image=upload(data))
    assert "at most 24 megapixels" in refused.value.message
    assert not Event.objects.exists()


def test_the_pixel_budget_is_a_setting_named_in_the_message(ann, settings):
    settings.ELONARA_COVER_MAX_PIXELS = 300_000
    with pytest.raises(InvalidInputError) as refused:
        _event(ann, image=upload(image_bytes("PNG", size=(800, 420))))  # 336,000 pixels
    assert "at most 0.3 megapixels" in refused.value.message
    settings.ELONARA_COVER_MAX_PIXELS = 400_000
    assert _event(ann, image=upload(image_bytes("PNG", size=(800, 420)))).image


def test_a_large_jpeg_is_decoded_at_a_reduced_scale(monkeypatch):
    # JPEG can decode at 1/2, 1/4, 1/8 scale (DCT scaling): a 4800 px photo never exists at full size.
    decoded_sizes = []
    real_load = Image.Image.load

    def recording_load(self):
        result = real_load(self)
        decoded_sizes.append(self.size)
        return result

    data = image_bytes("JPEG", size=(4800, 2400))
    monkeypatch.setattr(Image.Image, "load", recording_load)
    processed = images.cover_image_process(upload=upload(data, name="big.jpg", content_type="image/jpeg"))
    assert (processed.width, processed.height) == (1200, 600)
    assert decoded_sizes and max(w for w, _ in decoded_sizes) <= 2400


def test_jpeg_comments_icc_and_xmp_do_not_survive(ann, media_root):
    picture = Image.new("RGB", (800, 420), (10, 200, 10))
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", comment=b"SecretComment lat=38.7",
                 icc_profile=b"SecretICC" * 20, xmp=b"<x:xmpmeta>SecretXMP</x:xmpmeta>")
    source = buffer.getvalue()
    assert b"SecretComment" in source and b"SecretICC" in source and b"SecretXMP" in source
    event = _event(ann, image=upload(source, name="p.jpg", content_type="image/jpeg"))
    stored = Path(media_root, event.image.name).read_bytes()
    for secret in (b"SecretComment", b"SecretICC", b"SecretXMP"):
        assert secret not in stored
    with Image.open(io.BytesIO(stored)) as reopened:
        assert "comment" not in reopened.info and "icc_profile" not in reopened.info
        assert "xmp" not in reopened.info and not reopened.getexif()


def test_png_text_chunks_do_not_survive(ann, media_root):
    from PIL import PngImagePlugin

    chunks = PngImagePlugin.PngInfo()
    chunks.add_text("Comment", "SecretPlainText")  # tEXt
    chunks.add_itxt("Description", "SecretInternational", lang="en")  # iTXt
    chunks.add_text("Author", "SecretZipped", zip=True)  # zTXt
    data = image_bytes("PNG", mode="RGBA", color=(5, 5, 5, 255), pnginfo=chunks)
    assert b"SecretPlainText" in data and b"SecretInternational" in data
    event = _event(ann, image=upload(data))
    stored = Path(media_root, event.image.name).read_bytes()
    for secret in (b"SecretPlainText", b"SecretInternational", b"SecretZipped", b"Comment", b"Author"):
        assert secret not in stored
    with Image.open(io.BytesIO(stored)) as reopened:
        assert set(reopened.info) <= {"jfif", "jfif_version", "jfif_unit", "jfif_density", "dpi", "progressive",
                                      "progression"}


def test_cover_uploads_past_the_limit_are_refused_and_the_form_is_kept(client, ann, media_root, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "cover_upload": (2, 3600)}
    client.force_login(ann)
    fields = {"name": "Lake Swimmers", "description": "Cold water."}
    first = client.post("/communities/new/", {**fields, "image": upload(image_bytes("PNG"), name="a.png")})
    assert first.status_code == 302
    second = client.post("/communities/lake-swimmers/edit/", {**fields, "image": upload(image_bytes("JPEG"))})
    assert second.status_code == 302
    stored = Community.objects.get(slug="lake-swimmers").image.name
    third = client.post("/communities/lake-swimmers/edit/", {
        "name": "Lake Swimmers", "description": "Very cold water.", "image": upload(image_bytes("WEBP")),
    })
    page = third.content.decode()
    assert third.status_code == 200
    assert "Too many cover images: at most 2 every 60 minutes." in page and "try again in" in page
    assert "Very cold water." in page  # what the member typed is still in the form
    community = Community.objects.get(slug="lake-swimmers")
    assert community.image.name == stored and community.description == "Cold water."
    assert Path(media_root, stored).is_file()
    # Saving without a new image still works inside the window.
    fourth = client.post("/communities/lake-swimmers/edit/", {"name": "Lake Swimmers",
                                                               "description": "Very cold water."})
    assert fourth.status_code == 302
    assert Community.objects.get(slug="lake-swimmers").description == "Very cold water."


MEMORY_PROBE = """
import re, sys
import django
django.setup()
from django.core.files.uploadedfile import SimpleUploadedFile
from elonara.images import cover_image_process

def peak_mb():
    # VmHWM: this process's own peak resident memory (ru_maxrss would include the parent's).
    with open("/proc/self/status") as status:
        return int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)) // 1024

data = open(sys.argv[1], "rb").read()
before = peak_mb()
processed = cover_image_process(upload=SimpleUploadedFile("p.jpg", data, content_type="image/jpeg"))
print(processed.width, processed.height, peak_mb() - before)
"""


def test_a_24_megapixel_jpeg_costs_a_fraction_of_its_decoded_size(tmp_path):
    # 6000×4000 RGB is 72 MB decoded at full size (with its copies, ~130 MB more at peak); at 1/4
    # scale 4.5 MB (~40 MB more at peak, with the encoder and plugins).
    photo = tmp_path / "photo.jpg"
    Image.new("RGB", (6000, 4000), (90, 140, 200)).save(photo, quality=80)
    env = {**{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
           "DJANGO_SETTINGS_MODULE": "config.settings", "DEBUG": "true",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "REDIS_URL": "", "CELERY_BROKER_URL": "memory://"}
    result = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(photo)], cwd=Path(__file__).resolve().parents[2],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    width, height, grown_mb = map(int, result.stdout.split())
    assert (width, height) == (1200, 800)
    assert grown_mb < 70, f"peak memory grew by {grown_mb} MB"  # ~130 MB when decoded at full size

