"""Every AT Protocol identifier and string format, checked in one place.

Two layers, because the specs have two:

- **Syntax** (`is_valid_*`): exactly what the atproto syntax specs and their interop test vectors
  (`bluesky-social/atproto-interop-tests`, `syntax/`) call valid. These are the Lexicon string
  formats (`FORMATS`), so a record from another app is judged as every other implementation
  judges it. `tests/bluesky/atproto/test_syntax_interop.py` runs every vector line.
- **Accounts** (`is_account_handle`, `is_account_did`): the narrower set of identifiers we resolve
  and sign people in with. A syntactically valid handle may end in a TLD the handle spec forbids
  for real accounts (`.local`, `.onion`, ...); a syntactically valid DID may use any method, while
  atproto accounts use only `did:plc` and hostname-level `did:web`.

Pure functions over `str`, no I/O, Django-free. Every pattern is matched with `fullmatch`: `$`
alone would let a trailing newline through.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any, Final

# --- handles -----------------------------------------------------------------------------------
# A DNS hostname of two labels or more: labels of 1-63 ASCII letters, digits and inner hyphens;
# the last label (TLD) starts with a letter, which is also what keeps IPv4 addresses out.
_HANDLE = re.compile(
    r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?"
)
MAX_HANDLE_LENGTH: Final = 253
# TLDs the handle spec forbids for accounts (syntax accepts them). `.test` is for test networks
# only, so it is allowed only when the caller says it runs against one.
DISALLOWED_TLDS: Final = frozenset({"alt", "arpa", "example", "internal", "invalid", "local", "localhost", "onion"})


def is_valid_handle(value: str) -> bool:
    """Handle syntax (the `handle` Lexicon format), case-insensitive."""
    return len(value) <= MAX_HANDLE_LENGTH and _HANDLE.fullmatch(value) is not None


def is_account_handle(value: str, *, allow_test_tld: bool = False) -> bool:
    """A handle an account may have: valid syntax and not under a forbidden top-level domain."""
    if not is_valid_handle(value):
        return False
    tld = value.rsplit(".", 1)[-1].lower()
    if tld in DISALLOWED_TLDS:
        return False
    return allow_test_tld or tld != "test"


# --- DIDs ----------------------------------------------------------------------------------------
# The atproto DID spec: lower-case method; identifier of letters, digits and `._:%-`, not ending in
# `:` or `%`. At most 2 KB.
_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
MAX_DID_LENGTH: Final = 2048
_DID_PLC = re.compile(r"did:plc:[a-z2-7]{24}")
_LOCALHOST_PORT = re.compile(r"localhost(%3[aA][0-9]{1,5})?")


def is_valid_did(value: str) -> bool:
    """General DID syntax (the `did` Lexicon format): any method, as records may name any."""
    return len(value) <= MAX_DID_LENGTH and _DID.fullmatch(value) is not None


def is_valid_did_web(value: str, *, allow_localhost: bool = False) -> bool:
    """A `did:web` an atproto account or service may use.

    atproto supports hostname-level `did:web` only (no path, so no further `:`). The host follows
    the handle rules, forbidden TLDs included: a DNS name with a dot, so no IP address, no
    `localhost`, no `..`. The spec allows `localhost` (with a port, its colon written `%3A`) only in
    testing and development, and a port on no other host; `allow_localhost` is that switch.
    """
    if not value.startswith("did:web:") or not is_valid_did(value):
        return False
    host = value[len("did:web:"):]
    if _LOCALHOST_PORT.fullmatch(host):
        return allow_localhost
    return is_account_handle(host, allow_test_tld=allow_localhost)


def is_account_did(value: str, *, allow_localhost: bool = False) -> bool:
    """The DID of an atproto account: `did:plc` (exact shape) or hostname-level `did:web`."""
    if value.startswith("did:plc:"):
        return _DID_PLC.fullmatch(value) is not None
    return is_valid_did_web(value, allow_localhost=allow_localhost)


def is_valid_at_identifier(value: str) -> bool:
    """A handle or a DID (the `at-identifier` Lexicon format)."""
    return is_valid_did(value) if value.startswith("did:") else is_valid_handle(value)


# --- NSIDs ---------------------------------------------------------------------------------------
# Reversed domain authority (first label starts with a letter: it is a TLD) then a name segment of
# letters and digits starting with a letter; three segments at least.
_NSID = re.compile(
    r"[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+"
    r"\.[a-zA-Z][a-zA-Z0-9]{0,62}"
)
MAX_NSID_LENGTH: Final = 317  # the whole NSID (the vectors hold a valid 283-character authority)


def is_valid_nsid(value: str) -> bool:
    return len(value) <= MAX_NSID_LENGTH and _NSID.fullmatch(value) is not None


# --- TIDs and record keys ------------------------------------------------------------------------
# 13 characters of base32-sortable; the first one keeps the 64-bit value's top bit at 0.
_TID = re.compile(r"[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}")
_RECORD_KEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")


def is_valid_tid(value: str) -> bool:
    return _TID.fullmatch(value) is not None


def is_valid_record_key(value: str) -> bool:
    # "." and ".." would be path segments, not keys.
    return value not in (".", "..") and _RECORD_KEY.fullmatch(value) is not None


# --- AT-URIs ---------------------------------------------------------------------------------------
MAX_AT_URI_LENGTH: Final = 8192


def is_valid_at_uri(value: str) -> bool:
    """The restricted AT-URI records use: `at://<handle or DID>[/<NSID>[/<record key>]]`, no query,
    no fragment, no trailing slash."""
    if len(value) > MAX_AT_URI_LENGTH or not value.startswith("at://"):
        return False
    parts = value[len("at://"):].split("/")
    if len(parts) > 3 or not is_valid_at_identifier(parts[0]):
        return False
    if len(parts) >= 2 and not is_valid_nsid(parts[1]):
        return False
    return len(parts) < 3 or is_valid_record_key(parts[2])


# --- CIDs ----------------------------------------------------------------------------------------
# The `cid` string format is loose by design (the vectors accept any multibase, even CIDs that do
# not decode): the characters of the common multibase alphabets, 8-256 of them. CIDv0 ("Qm" + 44
# base58 characters, a bare sha-256 multihash) is not allowed in atproto.
_CID = re.compile(r"[a-zA-Z0-9+=]{8,256}")
_CIDV0 = re.compile(r"Qm[1-9A-HJ-NP-Za-km-z]{44}")
CODEC_DAG_CBOR: Final = 0x71
CODEC_RAW: Final = 0x55
_SHA256: Final = 0x12


def is_valid_cid(value: str) -> bool:
    """The `cid` Lexicon string format."""
    return _CID.fullmatch(value) is not None and _CIDV0.fullmatch(value) is None


def cid_link_bytes(value: str) -> bytes | None:
    """The binary CID of a link in its atproto form, or None.

    Links (`cid-link`, blob refs, `{"$link": ...}`) are stricter than the string format: the data
    model's blessed form is CIDv1, multibase base32 (`b`), sha-256, codec dag-cbor (records) or raw
    (blobs); that is what every PDS writes and what a repository can hold.
    """
    if not value.startswith("b") or len(value) > 256 or value != value.lower():
        return None
    text = value[1:].upper()
    try:
        data = base64.b32decode(text + "=" * (-len(text) % 8))
    except (binascii.Error, ValueError):
        return None
    if is_blessed_cid(data):
        return data
    return None


def is_blessed_cid(data: bytes) -> bool:
    """Binary CIDv1 / dag-cbor or raw / sha-256 of 32 bytes (all four fields fit in one byte each)."""
    return (len(data) == 36 and data[0] == 1 and data[1] in (CODEC_DAG_CBOR, CODEC_RAW)
            and data[2] == _SHA256 and data[3] == 32)


def cid_text(data: bytes) -> str:
    """A binary CID in its atproto string form: multibase base32, lower case, no padding."""
    return "b" + base64.b32encode(data).decode("ascii").lower().rstrip("=")


def is_valid_cid_link(value: str) -> bool:
    return cid_link_bytes(value) is not None


# --- datetimes -------------------------------------------------------------------------------------
# RFC 3339 as atproto restricts it: upper-case T and Z, seconds required, a timezone required
# (and not the "unknown offset" -00:00), any number of fraction digits.
_DATETIME = re.compile(
    r"(?P<y>[0-9]{4})-(?P<mo>[0-9]{2})-(?P<d>[0-9]{2})T(?P<h>[0-9]{2}):(?P<mi>[0-9]{2}):(?P<s>[0-9]{2})"
    r"(\.[0-9]+)?(Z|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)
MAX_DATETIME_LENGTH: Final = 64
_DAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _days_in_month(year: int, month: int) -> int:
    # Proleptic Gregorian, year 0 included (a leap year): Python's datetime stops at year 1.
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 29 if month == 2 and leap else _DAYS[month - 1]


def is_valid_datetime(value: str) -> bool:
    """The `datetime` Lexicon format: the shape above, a real calendar date and time, an offset
    below 24 h, and not before year 0 once normalised to UTC."""
    if len(value) > MAX_DATETIME_LENGTH:
        return False
    match = _DATETIME.fullmatch(value)
    if match is None or value.endswith("-00:00"):
        return False
    year, month, day = int(match["y"]), int(match["mo"]), int(match["d"])
    hour, minute, second = int(match["h"]), int(match["mi"]), int(match["s"])
    if not (1 <= month <= 12 and 1 <= day <= _days_in_month(year, month)):
        return False
    if hour > 23 or minute > 59 or second > 59:
        return False
    offset = 0
    if match["sign"]:
        offset_hours, offset_minutes = int(match["oh"]), int(match["om"])
        if offset_hours > 23 or offset_minutes > 59:
            return False
        offset = (offset_hours * 60 + offset_minutes) * (1 if match["sign"] == "+" else -1)
    # Only the first day can fall before year 0 in UTC: a positive offset moves it back.
    return not (year == 0 and month == 1 and day == 1 and hour * 60 + minute < offset)


# --- language tags ---------------------------------------------------------------------------------
# BCP 47 (RFC 5646) well-formed tags. The grandfathered tags are the RFC's fixed list. The primary
# language is two or three lower-case letters, as the interop vectors require (`JA` and `jaja` are
# refused; the RFC's reserved 4-letter and registered 5-8-letter forms are not used by anyone);
# other subtags in any case.
_GRANDFATHERED = frozenset({
    "en-gb-oed", "i-ami", "i-bnn", "i-default", "i-enochian", "i-hak", "i-klingon", "i-lux", "i-mingo",
    "i-navajo", "i-pwn", "i-tao", "i-tay", "i-tsu", "sgn-be-fr", "sgn-be-nl", "sgn-ch-de",
    "art-lojban", "cel-gaulish", "no-bok", "no-nyn", "zh-guoyu", "zh-hakka", "zh-min", "zh-min-nan",
    "zh-xiang",
})
_LANGTAG = re.compile(
    r"(?P<language>[a-z]{2,3}(-[a-zA-Z]{3}){0,3})"
    r"(-[a-zA-Z]{4})?"  # script
    r"(-([a-zA-Z]{2}|[0-9]{3}))?"  # region
    r"(?P<variants>(-([a-zA-Z0-9]{5,8}|[0-9][a-zA-Z0-9]{3}))*)"
    r"(?P<extensions>(-[0-9a-wyzA-WYZ](-[a-zA-Z0-9]{2,8})+)*)"
    r"(-[xX](-[a-zA-Z0-9]{1,8})+)?"  # private use
)
_PRIVATE_USE = re.compile(r"[xX](-[a-zA-Z0-9]{1,8})+")


def is_valid_language(value: str) -> bool:
    """The `language` Lexicon format: a well-formed BCP 47 tag, and valid in the RFC's sense that no
    variant and no extension singleton appears twice (case-insensitively)."""
    if value.lower() in _GRANDFATHERED or _PRIVATE_USE.fullmatch(value):
        return True
    match = _LANGTAG.fullmatch(value)
    if match is None:
        return False
    variants = match["variants"].lower().split("-")[1:]
    singletons = [part for part in match["extensions"].lower().split("-") if len(part) == 1]
    return len(set(variants)) == len(variants) and len(set(singletons)) == len(singletons)


# --- URIs ----------------------------------------------------------------------------------------
# RFC 3986 scheme, then at least one printable ASCII character and no whitespace; at most 8 KB.
_URI = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*:[!-~]+")
MAX_URI_LENGTH: Final = 8192


def is_valid_uri(value: str) -> bool:
    return len(value) <= MAX_URI_LENGTH and _URI.fullmatch(value) is not None


# The Lexicon string formats, by name.
FORMATS: Final[dict[str, Callable[[str], bool]]] = {
    "at-identifier": is_valid_at_identifier,
    "at-uri": is_valid_at_uri,
    "cid": is_valid_cid,
    "datetime": is_valid_datetime,
    "did": is_valid_did,
    "handle": is_valid_handle,
    "language": is_valid_language,
    "nsid": is_valid_nsid,
    "record-key": is_valid_record_key,
    "tid": is_valid_tid,
    "uri": is_valid_uri,
}


def is_str_valid(check: Callable[[str], bool], value: Any) -> bool:
    """`check(value)` for untrusted input of any type: False unless it is a string."""
    return isinstance(value, str) and check(value)
