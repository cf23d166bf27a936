"""The atproto data model: records in their JSON form, DAG-CBOR read into that form, and its rules.

One shape everywhere: a record fetched over XRPC (JSON) and a record read from the firehose
(DAG-CBOR) reach the validator alike, as plain dicts in which a CID link is `{"$link": "b..."}` and
a byte string is `{"$bytes": "<base64>"}`. libipld (3.5) decodes both a link and a byte string to
Python `bytes`, so they could not be told apart after decoding; records are therefore read with the
small decoder here, which keeps CBOR tag 42 (a link) apart from a plain byte string.

`data_model_problems` checks the rules the data-model spec and its interop vectors test: an object
at the top, no fractional numbers, 64-bit integers, `$type` a non-empty string, `$link` and
`$bytes` objects with nothing else in them and well-formed values, blobs with a link, a MIME type
and an integer size.

Pure and Django-free.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any, Final

from bluesky.atproto.syntax import cid_link_bytes, cid_text

MAX_DEPTH: Final = 128  # deeper than any real record; a hostile block costs one refusal, not a crash
_CID_TAG: Final = 42
_INT_MIN: Final = -(2**63)
_INT_MAX: Final = 2**63 - 1


class DataModelError(ValueError):
    """Bytes that are not a DAG-CBOR value of the atproto data model."""


# --- JSON form helpers -----------------------------------------------------------------------------

def link(cid: bytes) -> dict[str, str]:
    """A binary CID as a link in JSON form."""
    return {"$link": cid_text(cid)}


def bytes_value(data: bytes) -> dict[str, str]:
    """A byte string in JSON form (standard base64, no padding, as the spec writes it)."""
    return {"$bytes": base64.b64encode(data).decode("ascii").rstrip("=")}


def decode_bytes(value: Any) -> bytes | None:
    """The bytes of a `{"$bytes": ...}` object, or None when it is not one."""
    if not isinstance(value, dict) or set(value) != {"$bytes"} or not isinstance(value["$bytes"], str):
        return None
    text = value["$bytes"]
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def is_link(value: Any) -> bool:
    """A `{"$link": ...}` object holding an atproto CID."""
    return (isinstance(value, dict) and set(value) == {"$link"} and isinstance(value["$link"], str)
            and cid_link_bytes(value["$link"]) is not None)


def is_blob(value: Any) -> bool:
    """A blob object: `$type` "blob", a link `ref`, a MIME type, a non-negative integer size."""
    return (isinstance(value, dict) and value.get("$type") == "blob" and is_link(value.get("ref"))
            and isinstance(value.get("mimeType"), str) and bool(value["mimeType"])
            and type(value.get("size")) is int and value["size"] >= 0)


# --- the rules ---------------------------------------------------------------------------------------

def data_model_problems(value: Any) -> list[tuple[str, str]]:
    """Every (path, message) by which `value` is not a valid record in JSON form (empty = valid)."""
    if not isinstance(value, dict):
        return [("record", "must be an object")]
    problems: list[tuple[str, str]] = []
    _walk(value, "", problems, 0)
    return problems


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _walk(value: Any, path: str, problems: list[tuple[str, str]], depth: int) -> None:
    where = path or "record"
    if depth > MAX_DEPTH:
        problems.append((where, "is nested too deeply"))
    elif isinstance(value, float):
        # JSON cannot tell 123.0 from 123, so an integral number is an integer; a fraction is a
        # float, which the data model does not have.
        if not value.is_integer():
            problems.append((where, "floats are not allowed in records"))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk(item, f"{path}[{i}]", problems, depth + 1)
    elif isinstance(value, dict):
        _walk_object(value, path, problems, depth)
    elif isinstance(value, int) and not isinstance(value, bool) and not _INT_MIN <= value <= _INT_MAX:
        problems.append((where, "integers are 64-bit"))
    elif value is not None and not isinstance(value, bool | int | str):
        problems.append((where, f"a {type(value).__name__} is not a data-model value"))


def _walk_object(value: dict[Any, Any], path: str, problems: list[tuple[str, str]], depth: int) -> None:
    where = path or "record"
    if "$link" in value:
        if not is_link(value):
            problems.append((where, "a link holds only $link, an atproto CID"))
        return
    if "$bytes" in value:
        if decode_bytes(value) is None:
            problems.append((where, "a byte string holds only $bytes, in base64"))
        return
    if "$type" in value:
        kind = value["$type"]
        if not isinstance(kind, str) or not kind:
            problems.append((_join(path, "$type"), "must be a non-empty string"))
        elif kind == "blob" and not is_blob(value):
            problems.append((where, "a blob needs ref (a link), mimeType and an integer size"))
            return
    for key, item in value.items():
        if not isinstance(key, str):
            problems.append((where, "object keys are strings"))
            continue
        _walk(item, _join(path, key), problems, depth + 1)


# --- DAG-CBOR -> JSON form ---------------------------------------------------------------------------

def decode_dag_cbor(data: bytes) -> Any:
    """One DAG-CBOR value in JSON form (links as `{"$link"}`, byte strings as `{"$bytes"}`).

    Strict where it matters for telling values apart: definite lengths only, text-string map keys,
    no tag but 42, no trailing bytes. Raises `DataModelError`.
    """
    reader = _Reader(data)
    value = reader.value(0)
    if reader.pos != len(data):
        raise DataModelError("trailing bytes after the value")
    return value


class _Reader:
    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        end = self.pos + n
        if n < 0 or end > len(self.data):
            raise DataModelError("truncated value")
        chunk = self.data[self.pos:end]
        self.pos = end
        return chunk

    def head(self) -> tuple[int, int, int]:
        """(major type, additional info, argument)."""
        first = self.take(1)[0]
        major, info = first >> 5, first & 31
        if info < 24:
            return major, info, info
        if info in (24, 25, 26, 27):
            size = 1 << (info - 24)
            return major, info, int.from_bytes(self.take(size), "big")
        raise DataModelError("indefinite lengths are not DAG-CBOR")

    def value(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise DataModelError("nested too deeply")
        major, info, arg = self.head()
        if major == 0:
            return arg
        if major == 1:
            return -1 - arg
        if major == 2:
            return bytes_value(self.take(arg))
        if major == 3:
            try:
                return self.take(arg).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataModelError("text is not UTF-8") from exc
        if major == 4:
            return [self.value(depth + 1) for _ in range(arg)]
        if major == 5:
            return self._map(arg, depth)
        if major == 6:
            return self._link(arg)
        return self._simple(info, arg)

    def _map(self, size: int, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for _ in range(size):
            key = self.value(depth + 1)
            if not isinstance(key, str):
                raise DataModelError("map keys are text strings")
            if key in result:
                raise DataModelError("a map key appears twice")
            result[key] = self.value(depth + 1)
        return result

    def _link(self, tag: int) -> dict[str, str]:
        if tag != _CID_TAG:
            raise DataModelError("the only tag DAG-CBOR allows is 42 (a link)")
        major, _info, size = self.head()
        raw = self.take(size) if major == 2 else b""
        # Binary CIDs in tag 42 carry a leading 0x00 (the identity multibase prefix).
        if major != 2 or not raw.startswith(b"\x00"):
            raise DataModelError("a link holds a byte string starting with 0")
        return link(raw[1:])

    def _simple(self, info: int, arg: int) -> Any:
        if info == 20:
            return False
        if info == 21:
            return True
        if info == 22:
            return None
        if info == 27:
            # A float: decoded so that the data-model rules can refuse it with a path.
            return float(struct.unpack(">d", arg.to_bytes(8, "big"))[0])
        raise DataModelError("unsupported simple value")


# --- CAR files -------------------------------------------------------------------------------------

def read_varint(data: bytes, pos: int) -> tuple[int, int]:
    """An unsigned LEB128 varint (CAR lengths, CID fields) at `pos`: (value, position after it)."""
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise DataModelError("bad varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7
