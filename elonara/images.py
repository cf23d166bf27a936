"""Cover images: checks an upload and turns it into the JPEG we store.

Nothing the uploader sends is stored as is: the file is decoded by Pillow (its real type, not
its name or the browser's content type, decides), turned upright, flattened, resized and
re-encoded, which also drops its metadata (EXIF GPS positions and the like).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from PIL import Image, ImageOps, UnidentifiedImageError

from elonara.errors import InvalidInputError

# Decoded formats we accept, by Pillow's own identification of the bytes.
ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MIN_WIDTH, MIN_HEIGHT = 300, 150  # smaller looks broken in a large link card
MAX_SIDE = 12_000
# The pixel budget is settings.ELONARA_COVER_MAX_PIXELS (24 MP by default: a modern phone photo).
# It is checked on the header, before any decoding: a tiny PNG can declare 6300×6300 RGBA, which
# is ~160 MB once decoded. JPEGs are decoded at a reduced scale (see `_decode`), so the budget
# bounds what a PNG or WebP can cost: 4 bytes per pixel, twice while one with transparency is
# resized (Pillow premultiplies alpha into a copy).
# Stored size: fits a 1200 px box (1200x630 is what link cards show) ...
OUTPUT_BOX = (1200, 1200)
# ... and at most Bluesky's thumb blob limit (app.bsky.embed.external#external.thumb, 1,000,000
# bytes), so the stored file can be uploaded for a link card as is.
OUTPUT_MAX_BYTES = 1_000_000
OUTPUT_MIME = "image/jpeg"

_FIELD = "image"


@dataclass(frozen=True)
class ProcessedImage:
    content: ContentFile
    width: int
    height: int


def _size_text(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB" if n >= 1024 * 1024 else f"{n // 1024} KB"


def _refuse(message: str) -> InvalidInputError:
    return InvalidInputError(message, field=_FIELD)


def cover_image_process(*, upload) -> ProcessedImage:
    """Validate an uploaded file (size, real type, dimensions) and return the JPEG to store.

    Raises InvalidInputError(field="image") with a message for the member on any refusal.
    """
    max_bytes = settings.ELONARA_COVER_MAX_UPLOAD_BYTES
    size = getattr(upload, "size", None)
    if size is None or size <= 0:
        raise _refuse("The image file is empty.")
    if size > max_bytes:
        raise _refuse(f"The image is too large: at most {_size_text(max_bytes)}.")
    upload.seek(0)
    data = upload.read(max_bytes + 1)
    if len(data) > max_bytes:  # size was a lie
        raise _refuse(f"The image is too large: at most {_size_text(max_bytes)}.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Opening reads the header only: type and dimensions are checked before decoding.
            with Image.open(io.BytesIO(data)) as image:
                if image.format not in ACCEPTED_FORMATS:
                    raise _refuse("Upload a JPEG, PNG or WebP image.")
                width, height = image.size
                max_pixels = settings.ELONARA_COVER_MAX_PIXELS
                if width > MAX_SIDE or height > MAX_SIDE or width * height > max_pixels:
                    raise _refuse(f"The image is too large: at most {max_pixels / 1_000_000:g} megapixels "
                                  f"and {MAX_SIDE} pixels a side.")
                if width < MIN_WIDTH or height < MIN_HEIGHT:
                    raise _refuse(f"The image is too small: at least {MIN_WIDTH}×{MIN_HEIGHT} pixels.")
                return _encode(_decode(image))
    except InvalidInputError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _refuse("Upload a JPEG, PNG or WebP image.") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # truncated or corrupt data
        raise _refuse("The image could not be read; it may be damaged.") from exc


def _decode(image: Image.Image) -> Image.Image:
    # JPEG's DCT scaling decodes at 1/2, 1/4 or 1/8 size directly: ask for the smallest scale that
    # still covers the output box, so a large photo never exists in memory at full size.
    if image.format == "JPEG":
        image.draft("RGB", OUTPUT_BOX)
    image.load()
    return image


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image) -> ProcessedImage:
    # Shrink first (the box is square, so rotating afterwards keeps it inside): every copy that
    # follows is of the small picture.
    image.thumbnail(OUTPUT_BOX, Image.Resampling.LANCZOS)
    upright = ImageOps.exif_transpose(image)
    # Pixels only into a fresh image: `info` (JPEG COM comments, ICC, XMP, PNG tEXt/iTXt/zTXt,
    # EXIF) stays behind, since Pillow's encoders copy some of it from `info` on their own.
    flat = _flatten(upright)
    picture = Image.new("RGB", flat.size)
    picture.paste(flat)
    for quality in (85, 75, 65, 55):
        buffer = io.BytesIO()
        picture.save(buffer, format="JPEG", quality=quality, optimize=True, progressive=True)
        if buffer.tell() <= OUTPUT_MAX_BYTES:
            break
    else:  # pathological noise: shrink until it fits
        while buffer.tell() > OUTPUT_MAX_BYTES:
            picture = picture.resize((max(1, picture.width * 3 // 4), max(1, picture.height * 3 // 4)))
            buffer = io.BytesIO()
            picture.save(buffer, format="JPEG", quality=55, optimize=True, progressive=True)
    return ProcessedImage(content=ContentFile(buffer.getvalue(), name="cover.jpg"),
                          width=picture.width, height=picture.height)
