"""Post records: the limits of `app.bsky.feed.post`, counting graphemes, and checking a record
before any request is made. Django-free, so the invitation composer shares the same rules.

The PDS validates too, but a refused write costs a request and (for 4xx) is not retryable, so we
refuse early with a precise message. Limits come from the app.bsky.feed.post and
app.bsky.richtext.facet lexicons: text <= 300 graphemes and <= 3000 UTF-8 bytes, facet ranges in
UTF-8 bytes (end exclusive), at most 3 langs.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeGuard
from urllib.parse import urlsplit

import regex

from bluesky.atproto import syntax
from bluesky.atproto.datamodel import data_model_problems
from bluesky.atproto.nsid import EMBED_EXTERNAL, FACET_LINK, FACET_MENTION, FACET_TAG, POST_NSID
from bluesky.atproto.syntax import is_str_valid
from bluesky.errors import RecordProblem, RecordValidationError

__all__ = ["EMBED_EXTERNAL", "FACET_LINK", "FACET_MENTION", "FACET_TAG", "POST_NSID"]  # re-exported

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_LANGS = 3
MAX_TAG_GRAPHEMES = 64
MAX_TAG_BYTES = 640
MAX_URI_LENGTH = 8192  # generous; the lexicon has no limit but a post is capped at 3000 bytes anyway

# app.bsky.embed.external#external.thumb: an image blob of at most 1,000,000 bytes.
MAX_THUMB_BYTES = 1_000_000


@dataclass(frozen=True)
class BlobUpload:
    """Bytes to upload with com.atproto.repo.uploadBlob before the record that refers to them."""

    data: bytes = field(repr=False)
    mime_type: str

_GRAPHEME = regex.compile(r"\X")


def grapheme_count(text: str) -> int:
    return len(_GRAPHEME.findall(text))


def graphemes(text: str) -> list[str]:
    return _GRAPHEME.findall(text)


# The syntax checks themselves live in `bluesky.atproto.syntax`; these take untrusted values of
# any type (a record's field may be a number or a list).
def is_did(value: Any) -> TypeGuard[str]:
    """Any DID, as the lexicons' `did` format allows (mentions may name any method)."""
    return is_str_valid(syntax.is_valid_did, value)


def is_valid_datetime(value: Any) -> bool:
    return is_str_valid(syntax.is_valid_datetime, value)


def is_valid_rkey(value: Any) -> bool:
    return is_str_valid(syntax.is_valid_record_key, value)


def _is_http_uri(value: Any) -> bool:
    if not isinstance(value, str) or not value or len(value) > MAX_URI_LENGTH:
        return False
    if any(ch.isspace() for ch in value):
        return False
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _is_char_boundary(data: bytes, offset: int) -> bool:
    # A UTF-8 continuation byte is 0b10xxxxxx; a range may not start or end inside a character.
    return offset == len(data) or (data[offset] & 0xC0) != 0x80


def _check_facets(facets: Any, text_bytes: bytes, problems: list[RecordProblem]) -> None:
    if not isinstance(facets, list):
        problems.append(RecordProblem("facets", "must be a list"))
        return
    for i, facet in enumerate(facets):
        where = f"facets[{i}]"
        if not isinstance(facet, dict):
            problems.append(RecordProblem(where, "must be an object"))
            continue
        _check_facet_index(facet.get("index"), f"{where}.index", text_bytes, problems)
        features = facet.get("features")
        if not isinstance(features, list) or not features:
            problems.append(RecordProblem(f"{where}.features", "must be a non-empty list"))
            continue
        for j, feature in enumerate(features):
            _check_facet_feature(feature, f"{where}.features[{j}]", problems)


def _check_facet_index(index: Any, where: str, text_bytes: bytes, problems: list[RecordProblem]) -> None:
    if not isinstance(index, dict):
        problems.append(RecordProblem(where, "is required"))
        return
    start, end = index.get("byteStart"), index.get("byteEnd")
    if type(start) is not int or type(end) is not int:
        problems.append(RecordProblem(where, "byteStart and byteEnd must be integers"))
    elif not (0 <= start < end <= len(text_bytes)):
        problems.append(
            RecordProblem(where, f"byte range {start}..{end} is not inside the text ({len(text_bytes)} bytes)")
        )
    elif not (_is_char_boundary(text_bytes, start) and _is_char_boundary(text_bytes, end)):
        problems.append(RecordProblem(where, "byte range splits a UTF-8 character"))


def _check_facet_feature(feature: Any, where: str, problems: list[RecordProblem]) -> None:
    if not isinstance(feature, dict):
        problems.append(RecordProblem(where, "must be an object"))
        return
    kind = feature.get("$type")
    if kind == FACET_MENTION:
        if not is_did(feature.get("did")):
            problems.append(RecordProblem(f"{where}.did", "must be a valid DID"))
    elif kind == FACET_LINK:
        if not _is_http_uri(feature.get("uri")):
            problems.append(RecordProblem(f"{where}.uri", "must be an http(s) URI"))
    elif kind == FACET_TAG:
        if not _is_short_tag(feature.get("tag")):
            problems.append(RecordProblem(f"{where}.tag", "must be a short tag without spaces"))
    else:
        # Only feature types we understand are sent: an unknown one would be shown by no client.
        problems.append(RecordProblem(f"{where}.$type", f"unsupported facet feature {kind!r}"))


def _is_short_tag(tag: Any) -> bool:
    return (isinstance(tag, str) and bool(tag) and not any(ch.isspace() for ch in tag)
            and grapheme_count(tag) <= MAX_TAG_GRAPHEMES and len(tag.encode()) <= MAX_TAG_BYTES)


def _check_blob(blob: Any, where: str, problems: list[RecordProblem], *, max_size: int) -> None:
    if not isinstance(blob, dict) or blob.get("$type") != "blob":
        problems.append(RecordProblem(where, "must be a blob"))
        return
    ref = blob.get("ref")
    if not isinstance(ref, dict) or not is_str_valid(syntax.is_valid_cid_link, ref.get("$link")):
        problems.append(RecordProblem(f"{where}.ref", "must link to the uploaded blob"))
    mime = blob.get("mimeType")
    if not isinstance(mime, str) or not mime.startswith("image/"):
        problems.append(RecordProblem(f"{where}.mimeType", "must be an image type"))
    size = blob.get("size")
    if type(size) is not int or not 0 < size <= max_size:
        problems.append(RecordProblem(f"{where}.size", f"must be at most {max_size} bytes"))


def _check_embed(embed: Any, problems: list[RecordProblem]) -> None:
    if not isinstance(embed, dict) or embed.get("$type") != EMBED_EXTERNAL:
        # Only the embed we write (a link card); anything else would be a bug of ours.
        problems.append(RecordProblem("embed", f"only {EMBED_EXTERNAL!r} embeds are supported"))
        return
    external = embed.get("external")
    if not isinstance(external, dict):
        problems.append(RecordProblem("embed.external", "is required"))
        return
    if not _is_http_uri(external.get("uri")):
        problems.append(RecordProblem("embed.external.uri", "must be an http(s) URI"))
    for name in ("title", "description"):
        if not isinstance(external.get(name), str):
            problems.append(RecordProblem(f"embed.external.{name}", "is required and must be a string"))
    if "thumb" in external:
        _check_blob(external["thumb"], "embed.external.thumb", problems, max_size=MAX_THUMB_BYTES)


def record_problems(record: Any) -> list[RecordProblem]:
    """Every problem found in a post record (empty list = valid)."""
    problems: list[RecordProblem] = []
    if not isinstance(record, dict):
        return [RecordProblem("record", "must be an object")]
    problems.extend(RecordProblem(path, message) for path, message in data_model_problems(record))
    if record.get("$type") != POST_NSID:
        problems.append(RecordProblem("$type", f"must be {POST_NSID!r}"))

    text_bytes = _check_text(record.get("text"), problems)

    if not is_valid_datetime(record.get("createdAt")):
        problems.append(RecordProblem("createdAt", "must be an RFC 3339 date-time with a timezone"))

    if "facets" in record:
        _check_facets(record["facets"], text_bytes, problems)

    if "embed" in record:
        _check_embed(record["embed"], problems)

    if "langs" in record:
        _check_langs(record["langs"], problems)
    return problems


def _check_text(text: Any, problems: list[RecordProblem]) -> bytes:
    """The text's problems; its UTF-8 bytes (empty when it has none), which facets index."""
    if not isinstance(text, str):
        problems.append(RecordProblem("text", "is required and must be a string"))
        return b""
    try:
        text_bytes = text.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be sent as UTF-8 at all.
        problems.append(RecordProblem("text", "is not valid Unicode"))
        return b""
    if len(text_bytes) > MAX_BYTES:
        problems.append(RecordProblem("text", f"is {len(text_bytes)} bytes; the limit is {MAX_BYTES}"))
    graphemes = grapheme_count(text)
    if graphemes > MAX_GRAPHEMES:
        problems.append(RecordProblem("text", f"is {graphemes} characters; the limit is {MAX_GRAPHEMES}"))
    return text_bytes


def _check_langs(langs: Any, problems: list[RecordProblem]) -> None:
    if not isinstance(langs, list) or len(langs) > MAX_LANGS:
        problems.append(RecordProblem("langs", f"must be a list of at most {MAX_LANGS} language tags"))
        return
    for i, lang in enumerate(langs):
        if not is_str_valid(syntax.is_valid_language, lang):
            problems.append(RecordProblem(f"langs[{i}]", "must be a BCP-47 language tag"))


def validate_post_record(record: Any) -> None:
    """Raise `RecordValidationError` listing every problem, or return if the record is valid."""
    problems = record_problems(record)
    if problems:
        raise RecordValidationError(problems)


# --- record keys of kind "tid" ---------------------------------------------------------------
# A TID is a 64-bit integer (top bit 0: 53 bits of microseconds since the epoch, 10 bits of clock
# id) written as 13 characters of base32-sortable. Lexicons with `"key": "tid"` expect this shape.
_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"


def _tid_encode(value: int) -> str:
    chars = []
    for _ in range(13):
        chars.append(_B32_SORTABLE[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def tid_now(*, now_us: int | None = None, clock_id: int | None = None) -> str:
    """The one TID generator: the record key format Bluesky uses (posts, events). 64 bits: top bit
    0, 53 bits of microseconds since the epoch (`now_us`, default now), 10 bits of clock id (random
    unless given), as 13 characters of sortable base32."""
    micros = time.time_ns() // 1000 if now_us is None else now_us
    clock = secrets.randbelow(1024) if clock_id is None else clock_id & 1023
    return _tid_encode(((micros & ((1 << 53) - 1)) << 10) | clock)


def at_datetime(value: datetime) -> str:
    """The one createdAt format: RFC 3339 in UTC with milliseconds and a Z, as atproto wants."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tid_from_key(key: str) -> str:
    """A TID that is a pure function of `key`: the same (member, event) always names the same
    record, so writing an answer again overwrites it instead of adding a second one."""
    digest = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")
    return _tid_encode(digest & ((1 << 63) - 1))


def is_tid(value: Any) -> bool:
    return is_str_valid(syntax.is_valid_tid, value)
