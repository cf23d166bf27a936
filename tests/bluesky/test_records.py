"""Record validation tables: every rule refuses what it should and accepts what it should."""

import pytest

from bluesky.errors import RecordValidationError
from bluesky.records import (
    grapheme_count,
    is_valid_datetime,
    is_valid_rkey,
    record_problems,
    validate_post_record,
)

DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"


def post(**overrides):
    record = {"$type": "app.bsky.feed.post", "text": "Hello @bob.test!", "createdAt": "2026-11-22T23:00:00.000Z"}
    record.update(overrides)
    return {k: v for k, v in record.items() if v is not None}


def mention(start, end, did=DID):
    return {
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": "app.bsky.richtext.facet#mention", "did": did}],
    }


def link(start, end, uri):
    return {
        "index": {"byteStart": start, "byteEnd": end},
        "features": [{"$type": "app.bsky.richtext.facet#link", "uri": uri}],
    }


def fields(record):
    return sorted({p.field for p in record_problems(record)})


VALID = [
    post(),
    post(facets=[mention(6, 15)]),
    post(text="Café 🎉 @bob.test", facets=[mention(11, 20)]),  # é = 2 bytes, 🎉 = 4 bytes
    post(text="see https://example.com/e/1", facets=[link(4, 27, "https://example.com/e/1")]),
    post(
        text="x #tag",
        facets=[
            {
                "index": {"byteStart": 2, "byteEnd": 6},
                "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "tag"}],
            }
        ],
    ),
    post(langs=["en"]),
    post(langs=["en", "pt-BR", "zh-Hant"]),
    post(text="a" * 300),
    post(createdAt="2026-11-22T23:00:00Z"),
    post(createdAt="2026-11-22T23:00:00+01:00"),
    post(createdAt="2026-11-22T23:00:00.123456789Z"),
]


@pytest.mark.parametrize("record", VALID)
def test_valid_records_pass(record):
    assert record_problems(record) == []
    validate_post_record(record)


@pytest.mark.parametrize(
    ("record", "expected_fields"),
    [
        ("not a dict", ["record"]),
        (post(**{"$type": "app.bsky.feed.like"}), ["$type"]),
        (post(text=None), ["text"]),
        (post(text=42), ["text"]),
        (post(text="a" * 301), ["text"]),  # 301 graphemes
        (post(text="é" * 1501), ["text"]),  # 1,501 graphemes and 3,002 bytes: both reported on one field
        (post(text="👩‍👩‍👧‍👦" * 120), ["text"]),  # 120 graphemes but 25 bytes each = 3,000... see test below
        (post(text="\ud800"), ["text"]),  # lone surrogate: not encodable as UTF-8
        (post(createdAt=None), ["createdAt"]),
        (post(createdAt="2026-11-22"), ["createdAt"]),
        (post(createdAt="2026-11-22T23:00:00"), ["createdAt"]),  # no timezone
        (post(createdAt="2026-11-22t23:00:00Z"), ["createdAt"]),  # lower-case t
        (post(createdAt="2026-02-30T23:00:00Z"), ["createdAt"]),  # no such day
        (post(createdAt="2026-11-22T25:00:00Z"), ["createdAt"]),
        (post(createdAt="2026-11-22T23:00:00-00:00"), ["createdAt"]),
        (post(createdAt=1763852400), ["createdAt"]),
        (post(facets="nope"), ["facets"]),
        (post(facets=[mention(6, 99)]), ["facets[0].index"]),  # past the end
        (post(facets=[mention(-1, 5)]), ["facets[0].index"]),
        (post(facets=[mention(5, 5)]), ["facets[0].index"]),  # empty range
        (post(facets=[mention(9, 6)]), ["facets[0].index"]),  # reversed
        (post(facets=[mention("6", 15)]), ["facets[0].index"]),
        (post(facets=[mention(True, 15)]), ["facets[0].index"]),  # bool is not an int here
        (post(text="Café @bob.test", facets=[mention(4, 15)]), ["facets[0].index"]),  # starts inside é
        (post(text="🎉 @bob.test", facets=[mention(0, 2)]), ["facets[0].index"]),  # ends inside 🎉
        (post(facets=[mention(6, 15, did="bob.test")]), ["facets[0].features[0].did"]),
        (post(facets=[mention(6, 15, did="did:PLC:abc")]), ["facets[0].features[0].did"]),
        (post(facets=[mention(6, 15, did="did:plc:abc:")]), ["facets[0].features[0].did"]),
        (post(facets=[link(0, 5, "javascript:alert(1)")]), ["facets[0].features[0].uri"]),
        (post(facets=[link(0, 5, "ftp://example.com/")]), ["facets[0].features[0].uri"]),
        (post(facets=[link(0, 5, "https://")]), ["facets[0].features[0].uri"]),
        (post(facets=[link(0, 5, "https://exa mple.com/")]), ["facets[0].features[0].uri"]),
        (post(facets=[{"index": {"byteStart": 0, "byteEnd": 5}, "features": []}]), ["facets[0].features"]),
        (
            post(facets=[{"index": {"byteStart": 0, "byteEnd": 5}, "features": [{"$type": "x#y"}]}]),
            ["facets[0].features[0].$type"],
        ),
        (
            post(facets=[{"features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "a b"}]}]),
            ["facets[0].features[0].tag", "facets[0].index"],
        ),
        (post(langs="en"), ["langs"]),
        (post(extra={"score": 1.5}), ["extra.score"]),
        (post(langs=["en", "fr", "de", "es"]), ["langs"]),
        (post(langs=["english!"]), ["langs[0]"]),
        (post(langs=[""]), ["langs[0]"]),
    ],
)
def test_invalid_records_are_refused(record, expected_fields):
    if record == post(text="👩‍👩‍👧‍👦" * 120):
        # 120 family emoji: 120 graphemes (fine) but 120 * 25 = 3,000 bytes is exactly the limit.
        assert record_problems(record) == []
        record = post(text="👩‍👩‍👧‍👦" * 121)  # 3,025 bytes, only 121 graphemes: refused for bytes
    assert fields(record) == sorted(expected_fields)
    with pytest.raises(RecordValidationError) as info:
        validate_post_record(record)
    assert info.value.code == "invalid_record"
    assert info.value.problems


def test_grapheme_counting_uses_extended_clusters():
    assert grapheme_count("👩‍👩‍👧‍👦") == 1
    assert grapheme_count("e\u0301") == 1  # e + combining acute accent
    assert grapheme_count("🇵🇹") == 1
    assert grapheme_count("abc") == 3


def test_byte_limit_message_names_the_limit():
    problems = record_problems(post(text="é" * 1501))
    messages = " ".join(p.message for p in problems)
    assert "3002 bytes" in messages and "3000" in messages
    assert "1501 characters" in messages


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("3kz5abcdxyz22", True),
        ("self", True),
        ("a:b~c_d-e.f", True),
        (".", False),
        ("..", False),
        ("", False),
        ("a/b", False),
        ("a b", False),
        ("x" * 513, False),
        (None, False),
    ],
)
def test_rkey_syntax(value, ok):
    assert is_valid_rkey(value) is ok


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1985-04-12T23:20:50.123Z", True),
        ("1985-04-12T23:20:50.12345678912345Z", True),
        ("1985-04-12T23:20:50.123+00:00", True),
        ("1985-04-12T23:20:50Z", True),
        ("1985-04-12T23:20Z", False),
        ("1985-04-12 23:20:50Z", False),
        ("1985-04-12T23:20:50.Z", False),
        ("85-04-12T23:20:50Z", False),
        ("1985-13-12T23:20:50Z", False),
    ],
)
def test_datetime_syntax(value, ok):
    assert is_valid_datetime(value) is ok
