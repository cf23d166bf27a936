"""Building subscribeRepos #commit frames carrying records, as a relay sends them (header + body in
DAG-CBOR, the records in a CAR v1 of dag-cbor blocks), for feeding the real consumer."""

from __future__ import annotations

import hashlib
import itertools

import libipld

_seq = itertools.count(1000)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def block(record: dict) -> tuple[bytes, bytes]:
    """(CID bytes, encoded block) of a record: CIDv1, dag-cbor, sha2-256."""
    data = libipld.encode_dag_cbor(record)
    return b"\x01\x71\x12\x20" + hashlib.sha256(data).digest(), data


def car(blocks: list[tuple[bytes, bytes]]) -> bytes:
    header = libipld.encode_dag_cbor({"version": 1, "roots": [blocks[0][0]] if blocks else []})
    out = _varint(len(header)) + header
    for cid, data in blocks:
        out += _varint(len(cid) + len(data)) + cid + data
    return out


def commit(*, repo: str, ops: list[tuple[str, str, dict | None]], seq: int | None = None) -> tuple[bytes, int, list]:
    """A #commit frame for `ops` = [(action, "collection/rkey", record or None)]. Returns the
    frame, its seq and the CIDs (text) of the records."""
    seq = next(_seq) if seq is None else seq
    blocks, body_ops, cids = [], [], []
    for action, path, record in ops:
        if record is None:
            body_ops.append({"action": action, "path": path, "cid": None})
            cids.append(None)
            continue
        cid, data = block(record)
        blocks.append((cid, data))
        body_ops.append({"action": action, "path": path, "cid": cid})
        cids.append(libipld.encode_cid(cid))
    body = {"seq": seq, "repo": repo, "rev": "3l" + str(seq), "time": "2026-12-01T10:00:00.000Z", "ops": body_ops,
            "blocks": car(blocks), "commit": blocks[0][0] if blocks else None,
            "rebase": False, "tooBig": False, "blobs": []}
    return libipld.encode_dag_cbor({"op": 1, "t": "#commit"}) + libipld.encode_dag_cbor(body), seq, cids
