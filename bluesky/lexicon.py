"""Checking records against lexicon schemas (those bundled in `bluesky/lexicons/`, or any given).

No PyPI library validates data against arbitrary (non-`app.bsky`) lexicon documents, so this is a
validator of the Lexicon language's data types: record, object, string (length in UTF-8 bytes,
graphemes, every string format, enum/const), integer (minimum/maximum, enum/const), boolean, bytes
(length), cid-link, blob (accept, maxSize), array, ref, union (open unless `closed`), token,
unknown. Records are in their JSON form (`bluesky.atproto.datamodel`: links `{"$link"}`, byte
strings `{"$bytes"}`), whether fetched over XRPC or read from the firehose, and must first be valid
data-model values. Rules from the Lexicon spec: `knownValues` are a hint (other values are valid),
`maxLength` of a string counts UTF-8 bytes, an open union accepts a `$type` it does not know.
The interop vectors' record-data files run through it (`tests/bluesky/test_lexicon_interop.py`).
Django-free.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from bluesky.atproto.datamodel import data_model_problems, decode_bytes, is_blob, is_link
from bluesky.atproto.syntax import FORMATS, is_valid_nsid
from bluesky.errors import RecordProblem, RecordValidationError
from bluesky.records import grapheme_count

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"
LexiconLoader = Callable[[str], dict[str, Any]]


@cache
def lexicon_load(nsid: str) -> dict[str, Any]:
    """The bundled lexicon document for `nsid` (KeyError if we do not ship it)."""
    path = LEXICON_DIR / f"{nsid}.json"
    if not is_valid_nsid(nsid) or not path.is_file():
        raise KeyError(nsid)
    doc = json.loads(path.read_text())
    if doc.get("id") != nsid:
        raise KeyError(nsid)
    return doc


class _Checker:
    def __init__(self, lexicons: LexiconLoader) -> None:
        self.problems: list[RecordProblem] = []
        self.lexicons = lexicons

    def fail(self, path: str, message: str) -> None:
        self.problems.append(RecordProblem(path or "record", message))

    def resolve(self, ref: str, *, context: str) -> tuple[str, dict[str, Any]]:
        """A ref (`#local`, `nsid`, `nsid#name`) -> (full name, definition)."""
        nsid, _, name = ref.partition("#")
        nsid = nsid or context
        definition = self.lexicons(nsid)["defs"][name or "main"]
        return (nsid if not name or name == "main" else f"{nsid}#{name}"), definition

    def check(self, value: Any, schema: dict[str, Any], *, path: str, context: str) -> None:
        kind = schema.get("type")
        if isinstance(value, float) and not value.is_integer():
            return  # reported once for the whole record by the data-model check
        if kind == "ref":
            full, definition = self.resolve(schema["ref"], context=context)
            self.check(value, definition, path=path, context=full.partition("#")[0])
        elif kind == "union":
            self._union(value, schema, path=path, context=context)
        elif kind in ("object", "record"):
            self._object(value, schema.get("record", schema) if kind == "record" else schema, path=path,
                         context=context)
        elif kind in _SCALARS:
            _SCALARS[kind](self, value, schema, path)
        elif kind == "array":
            self._array(value, schema, path=path, context=context)
        elif kind == "token":
            self.fail(path, "a token is not a value")
        else:
            self.fail(path, f"schema type {kind!r} is not supported")

    def _array(self, value: Any, schema: dict[str, Any], *, path: str, context: str) -> None:
        if not isinstance(value, list):
            self.fail(path, "must be a list")
            return
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            self.fail(path, f"has more than {schema['maxLength']} items")
        if "minLength" in schema and len(value) < schema["minLength"]:
            self.fail(path, f"needs at least {schema['minLength']} items")
        for i, item in enumerate(value):
            self.check(item, schema["items"], path=f"{path}[{i}]", context=context)

    def _object(self, value: Any, schema: dict[str, Any], *, path: str, context: str) -> None:
        if not _is_plain_object(value):
            self.fail(path, "must be an object")
            return
        nullable = set(schema.get("nullable", []))
        for name in schema.get("required", []):
            if name not in value or (value[name] is None and name not in nullable):
                self.fail(f"{path}.{name}" if path else name, "is required")
        for name, prop in schema.get("properties", {}).items():
            if name not in value:
                continue
            where = f"{path}.{name}" if path else name
            if value[name] is None:
                if name not in nullable:
                    self.fail(where, "may not be null")
                continue
            self.check(value[name], prop, path=where, context=context)

    def _union(self, value: Any, schema: dict[str, Any], *, path: str, context: str) -> None:
        if not _is_plain_object(value) or not isinstance(value.get("$type"), str):
            self.fail(path, "must be an object with a $type")
            return
        wanted = value["$type"].removesuffix("#main")
        for ref in schema.get("refs", []):
            full, definition = self.resolve(ref, context=context)
            if full == wanted:
                self.check(value, definition, path=path, context=full.partition("#")[0])
                return
        if schema.get("closed"):
            self.fail(f"{path}.$type", f"{wanted!r} is not one of the allowed types")


def _is_plain_object(value: Any) -> bool:
    # A link, a byte string or a blob is an object in JSON but not an object of the data model.
    return isinstance(value, dict) and "$link" not in value and "$bytes" not in value \
        and value.get("$type") != "blob"


def _integer(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    # JSON has one kind of number: 3.0 is the integer 3 (fractions were refused as floats).
    if type(value) is float:
        value = int(value)
    if type(value) is not int:
        checker.fail(path, "must be an integer")
        return
    if "minimum" in schema and value < schema["minimum"]:
        checker.fail(path, f"must be at least {schema['minimum']}")
    if "maximum" in schema and value > schema["maximum"]:
        checker.fail(path, f"must be at most {schema['maximum']}")
    if "enum" in schema and value not in schema["enum"]:
        checker.fail(path, "is not one of the allowed values")
    if "const" in schema and value != schema["const"]:
        checker.fail(path, f"must be {schema['const']!r}")


def _boolean(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    if type(value) is not bool:
        checker.fail(path, "must be true or false")
    elif "const" in schema and value is not schema["const"]:
        checker.fail(path, f"must be {schema['const']!r}")


def _string(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    if not isinstance(value, str):
        checker.fail(path, "must be a string")
        return
    size = len(value.encode("utf-8", "surrogatepass"))
    if "maxLength" in schema and size > schema["maxLength"]:
        checker.fail(path, f"is {size} bytes; the limit is {schema['maxLength']}")
    if "minLength" in schema and size < schema["minLength"]:
        checker.fail(path, f"needs at least {schema['minLength']} bytes")
    if "maxGraphemes" in schema and grapheme_count(value) > schema["maxGraphemes"]:
        checker.fail(path, f"is longer than {schema['maxGraphemes']} characters")
    if "minGraphemes" in schema and grapheme_count(value) < schema["minGraphemes"]:
        checker.fail(path, f"needs at least {schema['minGraphemes']} characters")
    if "enum" in schema and value not in schema["enum"]:
        checker.fail(path, "is not one of the allowed values")
    if "const" in schema and value != schema["const"]:
        checker.fail(path, f"must be {schema['const']!r}")
    if "format" in schema:
        check = FORMATS.get(schema["format"])
        if check is None:
            checker.fail(path, f"string format {schema['format']!r} is not supported")
        elif not check(value):
            checker.fail(path, f"is not a valid {schema['format']}")


def _bytes(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    data = decode_bytes(value)
    if data is None:
        checker.fail(path, "must be bytes ({\"$bytes\": base64})")
        return
    if "maxLength" in schema and len(data) > schema["maxLength"]:
        checker.fail(path, f"is {len(data)} bytes; the limit is {schema['maxLength']}")
    if "minLength" in schema and len(data) < schema["minLength"]:
        checker.fail(path, f"needs at least {schema['minLength']} bytes")


def _cid_link(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    if not is_link(value):
        checker.fail(path, "must be a link ({\"$link\": CID})")


def _mime_accepted(mime: str, accept: list[str]) -> bool:
    # `accept` holds MIME types, `type/*` patterns, or `*/*`.
    mime = mime.lower()
    for pattern in accept:
        pattern = pattern.lower()
        if pattern in ("*/*", mime) or (pattern.endswith("/*") and mime.startswith(pattern[:-1])):
            return True
    return False


def _blob(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    if not is_blob(value):
        checker.fail(path, "must be a blob ($type blob, ref, mimeType, size)")
        return
    if "maxSize" in schema and value["size"] > schema["maxSize"]:
        checker.fail(path, f"is {value['size']} bytes; the limit is {schema['maxSize']}")
    if "accept" in schema and not _mime_accepted(value["mimeType"], schema["accept"]):
        checker.fail(path, f"type {value['mimeType']!r} is not accepted")


def _unknown(checker: _Checker, value: Any, schema: dict[str, Any], path: str) -> None:
    if not _is_plain_object(value):
        checker.fail(path, "must be an object")


_SCALARS: dict[str, Callable[[_Checker, Any, dict[str, Any], str], None]] = {
    "blob": _blob, "boolean": _boolean, "bytes": _bytes, "cid-link": _cid_link, "integer": _integer,
    "string": _string, "unknown": _unknown,
}


def record_problems(nsid: str, record: Any, *, lexicons: LexiconLoader = lexicon_load) -> list[RecordProblem]:
    """Every problem of `record` as a `nsid` record (empty list = valid). `lexicons` finds a lexicon
    document by NSID (default: the bundled ones)."""
    try:
        definition = lexicons(nsid)["defs"]["main"]
    except KeyError:
        return [RecordProblem("$type", f"no bundled lexicon for {nsid!r}")]
    if not isinstance(record, dict):
        return [RecordProblem("record", "must be an object")]
    checker = _Checker(lexicons)
    # Everywhere, declared or not: the data model's rules (no floats, well-formed links, bytes and
    # blobs); the PDS would refuse the record.
    checker.problems.extend(RecordProblem(path, message) for path, message in data_model_problems(record))
    if record.get("$type") != nsid:
        checker.fail("$type", f"must be {nsid!r}")
    checker.check(record, definition, path="", context=nsid)
    return checker.problems


def validate_record(nsid: str, record: Any) -> None:
    """Raise `RecordValidationError` listing every problem, or return if the record is valid."""
    problems = record_problems(nsid, record)
    if problems:
        raise RecordValidationError(problems)
