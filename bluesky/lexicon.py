"""Checking records against the lexicon schemas bundled in `bluesky/lexicons/` before any write.

No PyPI library validates data against arbitrary (non-`app.bsky`) lexicon documents, so this is a
small validator of the part of the Lexicon language those schemas use: record, object, string
(length in UTF-8 bytes, graphemes, formats, enum/const), integer, boolean, array, ref, union
(open unless `closed`), token, unknown, blob. Rules from the Lexicon spec: `knownValues` are a
hint (other values are valid), `maxLength` of a string counts UTF-8 bytes, floats do not exist in
the data model, an open union accepts a `$type` it does not know. Django-free.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

from bluesky.errors import RecordProblem, RecordValidationError
from bluesky.records import _float_paths, grapheme_count, is_did, is_valid_datetime

LEXICON_DIR = Path(__file__).resolve().parent / "lexicons"

_NSID = re.compile(r"^[a-zA-Z]([a-zA-Z0-9-]{0,62})?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62})?)+$")
_AT_URI = re.compile(r"^at://(did:[a-z]+:[a-zA-Z0-9._:%-]+|[a-zA-Z0-9.-]+)(/[a-zA-Z0-9.-]+(/[A-Za-z0-9._:~-]{1,512})?)?$")
# CIDv1 in base32 (what PDSes return: "bafy..."); CIDv0 base58 ("Qm...") is accepted too.
_CID = re.compile(r"^(b[a-z2-7]{8,}|Qm[1-9A-HJ-NP-Za-km-z]{44})$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:\S+$")
_HANDLE = re.compile(r"^([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_LANG = re.compile(r"^([a-zA-Z]{2,3}|[a-zA-Z]{4,8}|[ix])(-[a-zA-Z0-9]{1,8})*$")

FORMATS = {
    "datetime": is_valid_datetime,
    "at-uri": lambda v: len(v) <= 8192 and bool(_AT_URI.match(v)),
    "cid": lambda v: bool(_CID.match(v)),
    "uri": lambda v: len(v) <= 8192 and bool(_URI.match(v)),
    "did": is_did,
    "handle": lambda v: len(v) <= 253 and bool(_HANDLE.match(v)),
    "nsid": lambda v: bool(_NSID.match(v)),
    "language": lambda v: bool(_LANG.match(v)),
}


@cache
def lexicon_load(nsid: str) -> dict[str, Any]:
    """The bundled lexicon document for `nsid` (KeyError if we do not ship it)."""
    path = LEXICON_DIR / f"{nsid}.json"
    if not _NSID.match(nsid) or not path.is_file():
        raise KeyError(nsid)
    doc = json.loads(path.read_text())
    if doc.get("id") != nsid:
        raise KeyError(nsid)
    return doc


def _resolve(ref: str, *, context: str) -> tuple[str, dict[str, Any]]:
    """A ref (`#local`, `nsid`, `nsid#name`) -> (full name, definition)."""
    nsid, _, name = ref.partition("#")
    nsid = nsid or context
    definition = lexicon_load(nsid)["defs"][name or "main"]
    return (nsid if not name or name == "main" else f"{nsid}#{name}"), definition


class _Checker:
    def __init__(self) -> None:
        self.problems: list[RecordProblem] = []

    def fail(self, path: str, message: str) -> None:
        self.problems.append(RecordProblem(path or "record", message))

    def check(self, value: Any, schema: dict[str, Any], *, path: str, context: str) -> None:
        kind = schema.get("type")
        if isinstance(value, float):
            return  # reported once for the whole record (see record_problems)
        if kind == "ref":
            full, definition = _resolve(schema["ref"], context=context)
            self.check(value, definition, path=path, context=full.partition("#")[0])
        elif kind == "union":
            self._union(value, schema, path=path, context=context)
        elif kind in ("object", "record"):
            self._object(value, schema.get("record", schema) if kind == "record" else schema, path=path,
                         context=context)
        elif kind == "string":
            self._string(value, schema, path=path)
        elif kind == "integer":
            if type(value) is not int:
                self.fail(path, "must be an integer")
                return
            if "minimum" in schema and value < schema["minimum"]:
                self.fail(path, f"must be at least {schema['minimum']}")
            if "maximum" in schema and value > schema["maximum"]:
                self.fail(path, f"must be at most {schema['maximum']}")
        elif kind == "boolean":
            if type(value) is not bool:
                self.fail(path, "must be true or false")
        elif kind == "array":
            if not isinstance(value, list):
                self.fail(path, "must be a list")
                return
            if "maxLength" in schema and len(value) > schema["maxLength"]:
                self.fail(path, f"has more than {schema['maxLength']} items")
            if "minLength" in schema and len(value) < schema["minLength"]:
                self.fail(path, f"needs at least {schema['minLength']} items")
            for i, item in enumerate(value):
                self.check(item, schema["items"], path=f"{path}[{i}]", context=context)
        elif kind == "token":
            self.fail(path, "a token is not a value")
        elif kind == "unknown":
            if not isinstance(value, dict):
                self.fail(path, "must be an object")
        elif kind == "blob":
            if not isinstance(value, dict) or value.get("$type") != "blob":
                self.fail(path, "must be a blob")
        else:
            self.fail(path, f"schema type {kind!r} is not supported")

    def _object(self, value: Any, schema: dict[str, Any], *, path: str, context: str) -> None:
        if not isinstance(value, dict):
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
        if not isinstance(value, dict) or not isinstance(value.get("$type"), str):
            self.fail(path, "must be an object with a $type")
            return
        wanted = value["$type"].removesuffix("#main")
        for ref in schema.get("refs", []):
            full, definition = _resolve(ref, context=context)
            if full == wanted:
                self.check(value, definition, path=path, context=full.partition("#")[0])
                return
        if schema.get("closed"):
            self.fail(f"{path}.$type", f"{wanted!r} is not one of the allowed types")

    def _string(self, value: Any, schema: dict[str, Any], *, path: str) -> None:
        if not isinstance(value, str):
            self.fail(path, "must be a string")
            return
        size = len(value.encode("utf-8", "surrogatepass"))
        if "maxLength" in schema and size > schema["maxLength"]:
            self.fail(path, f"is {size} bytes; the limit is {schema['maxLength']}")
        if "minLength" in schema and size < schema["minLength"]:
            self.fail(path, f"needs at least {schema['minLength']} bytes")
        if "maxGraphemes" in schema and grapheme_count(value) > schema["maxGraphemes"]:
            self.fail(path, f"is longer than {schema['maxGraphemes']} characters")
        if "minGraphemes" in schema and grapheme_count(value) < schema["minGraphemes"]:
            self.fail(path, f"needs at least {schema['minGraphemes']} characters")
        if "enum" in schema and value not in schema["enum"]:
            self.fail(path, "is not one of the allowed values")
        if "const" in schema and value != schema["const"]:
            self.fail(path, f"must be {schema['const']!r}")
        check = FORMATS.get(schema.get("format", ""))
        if check is not None and not check(value):
            self.fail(path, f"is not a valid {schema['format']}")


def record_problems(nsid: str, record: Any) -> list[RecordProblem]:
    """Every problem of `record` as a `nsid` record (empty list = valid)."""
    try:
        definition = lexicon_load(nsid)["defs"]["main"]
    except KeyError:
        return [RecordProblem("$type", f"no bundled lexicon for {nsid!r}")]
    checker = _Checker()
    if not isinstance(record, dict):
        return [RecordProblem("record", "must be an object")]
    # Everywhere, declared or not: the data model has no floats, the PDS would refuse the record.
    checker.problems.extend(RecordProblem(path, "floats are not allowed in records")
                            for path in _float_paths(record, ""))
    if record.get("$type") != nsid:
        checker.fail("$type", f"must be {nsid!r}")
    checker.check(record, definition, path="", context=nsid)
    return checker.problems


def validate_record(nsid: str, record: Any) -> None:
    """Raise `RecordValidationError` listing every problem, or return if the record is valid."""
    problems = record_problems(nsid, record)
    if problems:
        raise RecordValidationError(problems)
