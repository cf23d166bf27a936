"""Uploaded files served by Django itself (local storage on one machine: `make serve`, systemd)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.static import serve

# Stored names are random and never reused (elonara.models.cover_upload_to): a file at a URL never
# changes, so browsers and proxies may keep it for a long time.
MEDIA_CACHE_SECONDS = 7 * 24 * 3600


def media_url_seconds() -> int:
    """How long a page showing an uploaded file's address made now may be kept: half the life of a
    signed object-storage address (they expire); as long as the file, for a plain one."""
    options = settings.MEDIA_STORAGE_OPTIONS
    if options.get("querystring_auth"):
        return int(options.get("querystring_expire", 3600)) // 2
    return MEDIA_CACHE_SECONDS


def media_serve(request: HttpRequest, path: str) -> HttpResponseBase:
    # show_indexes stays off: a folder answers 404, never a listing of everyone's files.
    response = serve(request, path, document_root=str(settings.MEDIA_ROOT), show_indexes=False)
    response["Cache-Control"] = f"public, max-age={MEDIA_CACHE_SECONDS}, immutable"
    # Uploads are re-encoded JPEGs, but never let a browser guess another type from the bytes.
    response["X-Content-Type-Options"] = "nosniff"
    return response
