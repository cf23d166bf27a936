"""Fixtures for events/communities tests: a private MEDIA_ROOT and real image files made by Pillow."""

from __future__ import annotations

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Uploaded covers go to a folder of this test, through the real FileSystemStorage."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (800, 420), mode: str = "RGB", color=(30, 120, 200),
                **save_kwargs) -> bytes:
    picture = Image.new(mode, size, color)
    # A second colour so a resize or a rotation is observable.
    half = Image.new(mode, (size[0] // 2, size[1]), (240, 200, 20) if mode == "RGB" else color)
    picture.paste(half, (0, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format=fmt, **save_kwargs)
    return buffer.getvalue()


def upload(data: bytes, name: str = "cover.png", content_type: str = "image/png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, data, content_type=content_type)
