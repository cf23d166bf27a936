"""Building subscribeRepos #commit frames carrying records, as a relay sends them (header + body in
DAG-CBOR, the records in a CAR v1 of dag-cbor blocks), for feeding the real consumer.

The commits are genuine in every way the consumer checks: each repository keeps a real tree (MST:
key layers from SHA-256 leading zeros, prefix-compressed entries), the commit is signed with a
secp256k1 key (low-S, raw r||s), and `Directory` serves, on loopback, the DID documents naming that
key (and any recorded from the official PDS), as a PLC directory does."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs

import libipld
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from bluesky.atproto.datamodel import read_varint
from bluesky.records import tid_now

_seq = itertools.count(1000)
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
RECORDED_DIDS = Path(__file__).resolve().parent.parent / "bluesky" / "atproto" / "data" / "firehose_dids.json"


class SigningKey:
    """A repository signing key: secp256k1 (ES256K, Bluesky's default) or P-256 (ES256)."""

    def __init__(self, curve: str = "k256") -> None:
        self.curve = curve
        self.private = ec.generate_private_key(ec.SECP256K1() if curve == "k256" else ec.SECP256R1())
        point = self.private.public_key().public_bytes(serialization.Encoding.X962,
                                                       serialization.PublicFormat.CompressedPoint)
        prefix = b"\xe7\x01" if curve == "k256" else b"\x80\x24"
        self.multibase = libipld.encode_multibase("z", prefix + point)

    def sign(self, message: bytes, *, low_s: bool = True) -> bytes:
        r, s = decode_dss_signature(self.private.sign(message, ec.ECDSA(hashes.SHA256())))
        order = _SECP256K1_N if self.curve == "k256" else _P256_N
        if (s > order // 2) == low_s:
            s = order - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")


KEY = SigningKey("k256")


def did_document(did: str, key: SigningKey = KEY, handle: str | None = None) -> dict:
    return {"@context": ["https://www.w3.org/ns/did/v1"], "id": did,
            "alsoKnownAs": [f"at://{handle}"] if handle else [],
            "verificationMethod": [{"id": f"{did}#atproto", "type": "Multikey", "controller": did,
                                    "publicKeyMultibase": key.multibase}],
            "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer",
                         "serviceEndpoint": "http://127.0.0.1:9"}]}


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


# --- the repository tree ---------------------------------------------------------------------

def _layer(key: bytes) -> int:
    """A key's layer: leading zero bits of its SHA-256, counted in pairs (fan-out 4)."""
    digest, zeros = hashlib.sha256(key).digest(), 0
    for byte in digest:
        if byte == 0:
            zeros += 8
            continue
        zeros += 8 - byte.bit_length()
        break
    return zeros // 2


def mst(entries: dict[bytes, bytes], out: list[tuple[bytes, bytes]]) -> bytes:
    """The root CID of the tree of `entries` (key -> value CID); its nodes appended to `out`."""
    items = sorted((key, _layer(key), value) for key, value in entries.items())
    top = max((layer for _k, layer, _v in items), default=0)
    root = _node(items, top, out)
    if root is None:  # an empty repository is one empty node
        root, data = block({"l": None, "e": []})
        out.append((root, data))
    return root


def _node(items: list[tuple[bytes, int, bytes]], layer: int, out: list[tuple[bytes, bytes]]) -> bytes | None:
    if not items:
        return None
    if layer < 0:
        raise ValueError("keys below layer 0")
    here = [i for i, (_k, item_layer, _v) in enumerate(items) if item_layer == layer]
    bounds = [-1, *here, len(items)]
    subtrees = [_node(items[a + 1:b], layer - 1, out) for a, b in itertools.pairwise(bounds)]
    entries, previous = [], b""
    for n, index in enumerate(here):
        key, _layer_, value = items[index]
        prefix = len(_common(previous, key))
        entries.append({"p": prefix, "k": key[prefix:], "v": value, "t": subtrees[n + 1]})
        previous = key
    cid, data = block({"l": subtrees[0], "e": entries})
    out.append((cid, data))
    return cid


def _common(a: bytes, b: bytes) -> bytes:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


_trees: dict[str, dict[bytes, bytes]] = {}


def signed_commit(*, repo: str, data: bytes, rev: str, key: SigningKey = KEY) -> tuple[bytes, bytes]:
    unsigned = {"did": repo, "version": 3, "data": data, "rev": rev, "prev": None}
    return block({**unsigned, "sig": key.sign(libipld.encode_dag_cbor(unsigned))})


def commit(*, repo: str, ops: list[tuple[str, str, dict | None]], seq: int | None = None,
           key: SigningKey = KEY) -> tuple[bytes, int, list]:
    """A #commit frame for `ops` = [(action, "collection/rkey", record or None)], signed by `key`
    over the repository's whole tree (kept per repo across calls). Returns the frame, its seq and
    the CIDs (text) of the records."""
    seq = next(_seq) if seq is None else seq
    tree = _trees.setdefault(repo, {})
    records, body_ops, cids = [], [], []
    for action, path, record in ops:
        if record is None:
            tree.pop(path.encode(), None)
            body_ops.append({"action": action, "path": path, "cid": None})
            cids.append(None)
            continue
        cid, data = block(record)
        records.append((cid, data))
        tree[path.encode()] = cid
        body_ops.append({"action": action, "path": path, "cid": cid})
        cids.append(libipld.encode_cid(cid))
    nodes: list[tuple[bytes, bytes]] = []
    root = mst(tree, nodes)
    rev = tid_now()
    signed = signed_commit(repo=repo, data=root, rev=rev, key=key)
    body = {"seq": seq, "repo": repo, "rev": rev, "since": None, "time": "2026-12-01T10:00:00.000Z", "ops": body_ops,
            "blocks": car([signed, *nodes, *records]), "commit": signed[0],
            "rebase": False, "tooBig": False, "blobs": []}
    return libipld.encode_dag_cbor({"op": 1, "t": "#commit"}) + libipld.encode_dag_cbor(body), seq, cids


# --- the directory ---------------------------------------------------------------------------

class Directory:
    """A PLC directory on loopback: the documents recorded with the real frames, `documents` set
    by a test, else (any did:plc) one naming KEY. `hits` lists the DIDs asked for. It also answers
    com.atproto.identity.resolveHandle from `handles` (handle -> DID) and, as an App View would,
    app.bsky.actor.getProfile from `profiles` (DID -> profile)."""

    def __init__(self) -> None:
        self.documents: dict[str, dict] = json.loads(RECORDED_DIDS.read_text()) if RECORDED_DIDS.exists() else {}
        self.missing: set[str] = set()
        self.hits: list[str] = []
        self.handles: dict[str, str] = {}
        self.profiles: dict[str, dict] = {}
        directory = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                path, _, query = self.path.partition("?")
                arg = parse_qs(query)
                if path == "/xrpc/com.atproto.identity.resolveHandle":
                    did = directory.handles.get(arg.get("handle", [""])[0])
                    return self._answer({"did": did} if did else None, 400)
                if path == "/xrpc/app.bsky.actor.getProfile":
                    return self._answer(directory.profiles.get(arg.get("actor", [""])[0]), 400)
                did = path.lstrip("/")
                directory.hits.append(did)
                document = directory.documents.get(did)
                if document is None and did.startswith("did:plc:") and did not in directory.missing:
                    document = did_document(did)
                return self._answer(document, 404)

            def _answer(self, document, missing: int):
                body = json.dumps(document).encode() if document else b""
                self.send_response(200 if document else missing)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def directory(settings):
    """The identity resolver pointed at a `Directory` (DID documents for the frames' signatures)."""
    from bluesky import clients

    served = Directory()
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_PLC_URL = served.url
    clients.reset()
    yield served
    served.close()
    clients.reset()


# --- frames altered in flight (what a compromised relay could send) -------------------------

def _split(data: bytes) -> tuple[dict, dict, dict[bytes, bytes], list[bytes]]:
    header, body = libipld.decode_dag_cbor_multi(data)
    raw, roots, offset = {}, [], 0
    blocks = body["blocks"]
    size, offset = read_varint(blocks, 0)
    roots = libipld.decode_dag_cbor(blocks[offset:offset + size]).get("roots", [])
    offset += size
    while offset < len(blocks):
        length, start = read_varint(blocks, offset)
        raw[blocks[start:start + 36]] = blocks[start + 36:start + length]
        offset = start + length
    return header, body, raw, roots


def _join(header: dict, body: dict, raw: dict[bytes, bytes], roots: list[bytes]) -> bytes:
    car_header = libipld.encode_dag_cbor({"version": 1, "roots": roots})
    out = _varint(len(car_header)) + car_header
    for cid, data in raw.items():
        out += _varint(len(cid) + len(data)) + cid + data
    body["blocks"] = out
    return libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body)


def tamper(data: bytes, how: str, *, seq: int | None = None, did: str = "") -> bytes:
    """A #commit frame altered in flight. `how`:
    - "record_byte": one byte of a record changed, its CID left (the block no longer hashes to it);
    - "record": a record changed and given its new CID, the op pointing at it (the signed tree does not);
    - "repo": the frame's repository swapped for `did` (the commit stays signed by the other);
    - "signature": the commit's signature zeroed (the block re-hashed, the frame pointing at it);
    - "replay": the same frame again under a new sequence number (`seq`)."""
    header, body, raw, roots = _split(data)
    if how == "replay":
        body["seq"] = seq
        return _join(header, body, raw, roots)
    if how == "repo":
        body["repo"] = did
        return _join(header, body, raw, roots)
    if how == "signature":
        commit = libipld.decode_dag_cbor(raw.pop(body["commit"]))
        commit["sig"] = bytes(64)
        cid, encoded = block(commit)
        raw[cid] = encoded
        body["commit"], roots = cid, [cid]
        return _join(header, body, raw, roots)
    op = next(op for op in body["ops"] if op.get("cid") is not None)
    record = raw.pop(op["cid"])
    position = record.index(b"#") + 1  # inside the status (or a $type): text, still valid CBOR
    changed = record[:position] + bytes([record[position] ^ 0x01]) + record[position + 1:]
    if how == "record_byte":
        raw[op["cid"]] = changed
    elif how == "record":
        cid = b"\x01\x71\x12\x20" + hashlib.sha256(changed).digest()
        raw[cid] = changed
        op["cid"] = cid
    else:
        raise ValueError(how)
    return _join(header, body, raw, roots)
