"""Every line of the atproto interop syntax vectors: valid values accepted, invalid ones refused.

The vectors (tests/bluesky/atproto/data/interop/, CC0) are what every atproto implementation is
held to; a category is done when each of its lines is judged the same way here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bluesky.atproto import syntax

VECTORS = Path(__file__).parent / "data" / "interop" / "syntax"

# file stem -> the check it exercises. `*_parse_invalid` files hold values that are well formed
# but not valid (month 13, a repeated variant): refused all the same.
CATEGORIES: dict[str, Callable[[str], bool]] = {
    "atidentifier_syntax": syntax.is_valid_at_identifier,
    "aturi_syntax": syntax.is_valid_at_uri,
    "cid_syntax": syntax.is_valid_cid,
    "datetime_syntax": syntax.is_valid_datetime,
    "datetime_parse": syntax.is_valid_datetime,
    "did_syntax": syntax.is_valid_did,
    "handle_syntax": syntax.is_valid_handle,
    "language_syntax": syntax.is_valid_language,
    "language_parse": syntax.is_valid_language,
    "nsid_syntax": syntax.is_valid_nsid,
    "recordkey_syntax": syntax.is_valid_record_key,
    "tid_syntax": syntax.is_valid_tid,
    "uri_syntax": syntax.is_valid_uri,
}


def vector_lines(path: Path) -> list[str]:
    # Only the newline is stripped: leading and trailing spaces are part of some invalid values.
    return [line for line in path.read_text(encoding="utf-8").split("\n") if line and not line.startswith("#")]


def _cases(kind: str) -> list[object]:
    cases: list[object] = []
    for path in sorted(VECTORS.glob(f"*_{kind}.txt")):
        stem = path.name.removesuffix(f"_{kind}.txt")
        cases.extend(pytest.param(stem, value, id=f"{stem}:{i}") for i, value in enumerate(vector_lines(path)))
    return cases


def test_every_vector_file_has_a_check() -> None:
    stems = {p.name.rsplit("_", 1)[0] for p in VECTORS.glob("*.txt")}
    assert stems == set(CATEGORIES)


@pytest.mark.parametrize(("category", "value"), _cases("valid"))
def test_valid_vectors_are_accepted(category: str, value: str) -> None:
    assert CATEGORIES[category](value) is True


@pytest.mark.parametrize(("category", "value"), _cases("invalid"))
def test_invalid_vectors_are_refused(category: str, value: str) -> None:
    assert CATEGORIES[category](value) is False


def test_every_lexicon_format_has_a_check() -> None:
    # The string formats the Lexicon spec defines, no more and no fewer.
    assert set(syntax.FORMATS) == {"at-identifier", "at-uri", "cid", "datetime", "did", "handle", "language",
                                   "nsid", "record-key", "tid", "uri"}


@pytest.mark.parametrize("value", ["john.test\n", "did:plc:ewvi7nxzyoun6zhxrhs64oiz\n", "3jzfcijpj2z2a\n",
                                   "com.example.foo\n", "1985-04-12T23:20:50.123Z\n", "en\n"])
def test_a_trailing_newline_is_refused(value: str) -> None:
    assert not any(check(value) for check in syntax.FORMATS.values())


# --- accounts: the narrower identifiers we resolve ----------------------------------------------

@pytest.mark.parametrize(("did", "ok"), [
    ("did:plc:ewvi7nxzyoun6zhxrhs64oiz", True),
    ("did:plc:ewvi7nxzyoun6zhxrhs64oi", False),  # 23 characters
    ("did:plc:EWVI7NXZYOUN6ZHXRHS64OIZ", False),
    ("did:web:example.com", True),
    ("did:web:sub.example.co.uk", True),
    ("did:web:10.0.0.1%3A8080", False),  # an IP address, and a port on a host that is not localhost
    ("did:web:10.0.0.1", False),
    ("did:web:localhost", False),  # only on a test network
    ("did:web:localhost%3A1234", False),
    ("did:web:..", False),
    ("did:web:example.com%3A443", False),
    ("did:web:example.com:path", False),  # path-based did:web is not an atproto account
    ("did:web:example", False),  # no dot
    ("did:web:printer.local", False),  # a TLD handles may not use
    ("did:web:alice.test", False),
    ("did:key:zQ3shZc2QzApp2oymGvQbzP8eKheVshBHbU4ZYjeXqwSKEn6N", False),
    ("did:web:exa mple.com", False),
])
def test_account_dids(did: str, ok: bool) -> None:
    assert syntax.is_account_did(did) is ok


@pytest.mark.parametrize("did", ["did:web:localhost", "did:web:localhost%3A2583", "did:web:alice.test"])
def test_localhost_did_web_only_on_a_test_network(did: str) -> None:
    assert syntax.is_valid_did(did)
    assert not syntax.is_account_did(did)
    assert syntax.is_account_did(did, allow_localhost=True)


@pytest.mark.parametrize(("handle", "ok"), [
    ("alice.bsky.social", True), ("laptop.local", False), ("expyuzz4wqqyqhjn.onion", False),
    ("thing.arpa", False), ("alice.test", False), ("alice.example", False),
])
def test_account_handles(handle: str, ok: bool) -> None:
    assert syntax.is_valid_handle(handle)
    assert syntax.is_account_handle(handle) is ok


# --- CID links: stricter than the string format -------------------------------------------------

@pytest.mark.parametrize(("value", "ok"), [
    ("bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq", True),  # dag-cbor
    ("bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity", True),  # raw
    ("bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", False),  # dag-pb: not in atproto data
    ("QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR", False),  # CIDv0
    ("zdj7WWeQ43G6JJvLWQWZpyHuAMq6uYWRjkBXFad11vE2LHhQ7", False),  # base58: links are written base32
    ("BAFYREICLP443LAVOGVHJ3D2OB2CXBFUSCNI2K5JK7BEBJZG7KHL3ESABWQ", False),
    ("bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esab", False),  # truncated digest
    (".", False),
])
def test_cid_links(value: str, ok: bool) -> None:
    assert syntax.is_valid_cid_link(value) is ok


def test_cid_text_round_trips() -> None:
    text = "bafyreiclp443lavogvhj3d2ob2cxbfuscni2k5jk7bebjzg7khl3esabwq"
    data = syntax.cid_link_bytes(text)
    assert data is not None and syntax.cid_text(data) == text
