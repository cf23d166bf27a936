"""The data model against the atproto interop vectors (data-model/, CC0): valid and invalid values,
and the DAG-CBOR fixtures read back into their JSON form with links and byte strings kept apart."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import libipld
import pytest

from bluesky.atproto import datamodel
from bluesky.atproto.datamodel import DataModelError, data_model_problems, decode_dag_cbor
from bluesky.atproto.firehose import FirehoseFilter
from tests.network.frames import car

VECTORS = Path(__file__).parent / "data" / "interop" / "data-model"


def _load(name: str) -> list[dict[str, Any]]:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def _b64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4))


@pytest.mark.parametrize("case", _load("data-model-valid.json"), ids=lambda c: c["note"])
def test_valid_values_are_accepted(case: dict[str, Any]) -> None:
    assert data_model_problems(case["json"]) == []


@pytest.mark.parametrize("case", _load("data-model-invalid.json"), ids=lambda c: c["note"])
def test_invalid_values_are_refused(case: dict[str, Any]) -> None:
    assert data_model_problems(case["json"]) != []


@pytest.mark.parametrize("case", _load("data-model-fixtures.json"), ids=lambda c: c["cid"])
def test_fixtures_decode_to_their_json_form(case: dict[str, Any]) -> None:
    data = _b64(case["cbor_base64"])
    # The fixture's CID is the sha-256 of these very bytes: they are what a repository stores.
    cid = b"\x01\x71\x12\x20" + hashlib.sha256(data).digest()
    assert datamodel.cid_text(cid) == case["cid"]
    decoded = decode_dag_cbor(data)
    assert decoded == case["json"]
    assert data_model_problems(decoded) == []


def test_a_link_and_a_byte_string_stay_apart() -> None:
    fixture = _load("data-model-fixtures.json")[1]
    data = _b64(fixture["cbor_base64"])
    # What libipld 3.5 gives: both are bytes, nothing tells them apart.
    raw = libipld.decode_dag_cbor(data)
    assert isinstance(raw["a"], bytes) and isinstance(raw["b"], bytes)
    decoded = decode_dag_cbor(data)
    assert decoded["a"] == {"$link": "bafyreidfayvfuwqa7qlnopdjiqrxzs6blmoeu4rujcjtnci5beludirz2a"}
    assert decoded["b"] == {"$bytes": "nFERjvLLiw9qm45JrqH9QTzyC2Lu1Xb4ne6+sBrCzI0"}
    assert datamodel.is_blob(decoded["c"])


def test_the_firehose_hands_records_over_in_json_form() -> None:
    record = _b64(_load("data-model-fixtures.json")[1]["cbor_base64"])
    cid = b"\x01\x71\x12\x20" + hashlib.sha256(record).digest()
    body = {"seq": 5, "repo": "did:plc:ewvi7nxzyoun6zhxrhs64oiz", "rev": "3l5", "time": "2026-12-01T10:00:00.000Z",
            "ops": [{"action": "create", "path": "community.lexicon.calendar.event/3l5", "cid": cid}],
            "blocks": car([(cid, record)]), "commit": cid, "rebase": False, "tooBig": False, "blobs": []}
    frame = libipld.encode_dag_cbor({"op": 1, "t": "#commit"}) + libipld.encode_dag_cbor(body)
    parsed = FirehoseFilter(["community.lexicon.calendar.event"]).parse(frame)
    assert parsed is not None
    (op,) = parsed.ops
    assert op.record == _load("data-model-fixtures.json")[1]["json"]
    assert op.cid == datamodel.cid_text(cid)


@pytest.mark.parametrize(("data", "why"), [
    (bytes.fromhex("9f01ff"), "indefinite-length array"),
    (bytes.fromhex("c1 1a 00 00 00 01".replace(" ", "")), "a tag other than 42"),
    (bytes.fromhex("0101"), "trailing bytes"),
    (bytes.fromhex("a1 01 01".replace(" ", "")), "an integer map key"),
    (bytes.fromhex("62 ff fe".replace(" ", "")), "text that is not UTF-8"),
    (bytes.fromhex("d8 2a 45 01 71 12 20 00".replace(" ", "")), "a link without the leading zero"),
    (bytes.fromhex("f7"), "undefined"),
    (b"\x81" * 200 + b"\x01", "nesting deeper than any record"),
    (bytes.fromhex("a2 61 61 01 61 61 02".replace(" ", "")), "a key twice"),
])
def test_the_decoder_refuses_what_dag_cbor_forbids(data: bytes, why: str) -> None:
    with pytest.raises(DataModelError):
        decode_dag_cbor(data)


def test_floats_decode_and_are_refused_by_the_rules() -> None:
    value = decode_dag_cbor(libipld.encode_dag_cbor({"x": 1.5}))
    assert value == {"x": 1.5}
    assert data_model_problems(value) == [("x", "floats are not allowed in records")]


@pytest.mark.parametrize("value", [
    {"l": {"$link": "QmbWqxBEKC3P8tqsKc98xmWNzrzDtRLMiMPL8wBuTGsMnR"}},  # CIDv0
    {"l": {"$bytes": "not base64!"}},
    {"b": {"$type": "blob", "ref": {"$link": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity"},
           "mimeType": "image/jpeg", "size": -1}},
    {"b": {"$type": "blob", "ref": "bafkreiccldh766hwcnuxnf2wh6jgzepf2nlu2lvcllt63eww5p6chi4ity",
           "mimeType": "image/jpeg", "size": 1}},
    {"deep": [{"$type": ""}]},
    {"big": 2**63},
    {"small": -(2**63) - 1},
])
def test_more_invalid_values(value: dict[str, Any]) -> None:
    assert data_model_problems(value) != []
