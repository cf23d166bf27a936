"""The lexicon validator against the atproto interop vectors (lexicon/record-data-*.json, CC0):
records of `example.lexicon.record`, a schema using every Lexicon data type and string format."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bluesky.lexicon import record_problems

INTEROP = Path(__file__).parent / "atproto" / "data" / "interop"
NSID = "example.lexicon.record"
CATALOG = json.loads((INTEROP / "lexicon" / "catalog" / "record.json").read_text(encoding="utf-8"))


def catalog(nsid: str) -> dict[str, Any]:
    if nsid != CATALOG["id"]:
        raise KeyError(nsid)
    return CATALOG


def _cases(name: str) -> list[Any]:
    cases = json.loads((INTEROP / "lexicon" / name).read_text(encoding="utf-8"))
    return [pytest.param(case["data"], id=f"{i}:{case['name']}") for i, case in enumerate(cases)]


def _syntax_lines(stem: str) -> list[str]:
    text = (INTEROP / "syntax" / f"{stem}.txt").read_text(encoding="utf-8")
    return [line for line in text.split("\n") if line and not line.startswith("#")]


@pytest.mark.parametrize("record", _cases("record-data-valid.json"))
def test_valid_records_are_accepted(record: dict[str, Any]) -> None:
    assert record_problems(NSID, record, lexicons=catalog) == []


@pytest.mark.parametrize("record", _cases("record-data-invalid.json"))
def test_invalid_records_are_refused(record: dict[str, Any]) -> None:
    assert record_problems(NSID, record, lexicons=catalog) != []


# Every invalid syntax vector of each string format, as a field of a record: refused by the validator.
FORMAT_FIELDS = {"tid": "tid_syntax_invalid", "recordkey": "recordkey_syntax_invalid",
                 "atidentifier": "atidentifier_syntax_invalid", "aturi": "aturi_syntax_invalid",
                 "cid": "cid_syntax_invalid", "did": "did_syntax_invalid", "handle": "handle_syntax_invalid",
                 "nsid": "nsid_syntax_invalid", "datetime": "datetime_syntax_invalid",
                 "language": "language_syntax_invalid", "uri": "uri_syntax_invalid"}


@pytest.mark.parametrize(("field", "value"), [
    pytest.param(field, value, id=f"{field}:{i}")
    for field, stem in FORMAT_FIELDS.items() for i, value in enumerate(_syntax_lines(stem))
])
def test_invalid_format_strings_are_refused(field: str, value: str) -> None:
    record = {"$type": NSID, "integer": 1, "formats": {field: value}}
    problems = record_problems(NSID, record, lexicons=catalog)
    assert [p.field for p in problems] == [f"formats.{field}"]


@pytest.mark.parametrize(("field", "value"), [
    pytest.param(field, value, id=f"{field}:{i}")
    for field, stem in FORMAT_FIELDS.items()
    for i, value in enumerate(_syntax_lines(stem.replace("_invalid", "_valid")))
])
def test_valid_format_strings_are_accepted(field: str, value: str) -> None:
    record = {"$type": NSID, "integer": 1, "formats": {field: value}}
    assert record_problems(NSID, record, lexicons=catalog) == []


BLOB = {"$type": "blob", "ref": {"$link": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity"},
        "mimeType": "image/png", "size": 20}


@pytest.mark.parametrize(("field", "value", "ok"), [
    ("bytes", {"$bytes": "aGVsbG8"}, True),  # another app's record with a bytes field is kept
    ("bytes", {"$link": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity"}, False),
    ("sizeBytes", {"$bytes": "MDEyMzQ1Njc4OQ"}, True),  # 10 bytes
    ("sizeBytes", {"$bytes": "MDEyMzQ1Njc4"}, False),  # 9 bytes
    ("cid-link", {"$link": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity"}, True),
    ("cid-link", {"$bytes": "aGVsbG8"}, False),
    ("cid-link", {"$link": "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"}, False),
    ("constInteger", 42, True),
    ("constInteger", 41, False),
    ("enumInteger", 16, True),
    ("enumInteger", 15, False),
    ("rangeInteger", 10, True),
    ("rangeInteger", 21, False),
    ("sizeBlob", BLOB, True),
    ("sizeBlob", {**BLOB, "size": 21}, False),
    ("acceptBlob", BLOB, True),
    ("acceptBlob", {**BLOB, "mimeType": "text/html"}, False),
    ("blob", {**BLOB, "ref": {"$link": "."}}, False),
    ("unknown", {"any": "object"}, True),
    ("unknown", BLOB, False),
    ("object", {"$bytes": "aGVsbG8"}, False),
])
def test_types_and_limits(field: str, value: Any, ok: bool) -> None:
    problems = record_problems(NSID, {"$type": NSID, "integer": 1, field: value}, lexicons=catalog)
    assert (problems == []) is ok, problems
