"""Checking a repository commit against its author: the bytes, the signature, the tree.

A relay is not trusted: it only forwards what repositories signed. A `#commit` frame carries, as a
CAR slice, the signed commit object and the repository tree (MST) nodes on the paths it changed, so
each kept operation can be proven without asking anyone but the author's DID document:

1. `read_car`: each block's SHA-256 must equal the digest its CID names. A record changed by one
   byte anywhere in flight fails here, before anything reads it.
2. `signed_commit` + `signature_valid`: the commit object (`did`, `version` 3, `data`, `rev`,
   `prev`, `sig`) is signed over the DAG-CBOR of itself without `sig`: ECDSA over SHA-256, the
   signature 64 raw bytes r||s in low-S form, the key the DID document's `#atproto` verification
   method (Multikey: secp256k1 or P-256, compressed point).
3. `mst_lookup`: from the signed tree root (`data`), through the slice's nodes, the value CID of a
   path, or None when the tree proves the path absent. A node the proof needs but the slice lacks is
   a failure, never an assumed absence.

`CommitVerifier` puts the three together with a key source and a replay guard. Django-free.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol

import coincurve
import libipld
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bluesky.atproto.datamodel import DataModelError, read_varint

# Multicodec prefixes of the two key types the atproto spec allows (varint-encoded).
_SECP256K1_PUB = b"\xe7\x01"
_P256_PUB = b"\x80\x24"
# Group orders: a signature whose s is above half of it is the high-S twin of a valid one, which the
# spec refuses (it would let anyone make a second valid signature of the same commit).
_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
_P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_SHA256 = 0x12
_DAG_CBOR = 0x71
_RAW = 0x55
# Deeper than any real tree (keys fan out ~4x per level); bounds the walk of a hostile one.
_MAX_TREE_DEPTH = 64
REASONS = ("block_hash", "bad_commit", "wrong_repo", "no_key", "signature", "proof", "replay", "future_rev")
# A rev is a TID: the time of the commit. One far ahead of our clock is refused (the sync spec): once
# accepted it would make every later genuine commit of that repository look like a replay.
FUTURE_REV_SECONDS = 300.0
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_TID_VALUES = {c: n for n, c in enumerate(_TID_ALPHABET)}


class VerificationError(Exception):
    """A commit that does not prove what it claims. `reason` is one of REASONS (closed, for
    metrics); the message names no key material."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class KeyUnavailable(Exception):
    """The author's signing key could not be learnt (DID document unreachable or without one)."""


def _varint(data: bytes, offset: int) -> tuple[int, int]:
    try:
        return read_varint(data, offset)
    except DataModelError as exc:
        raise VerificationError("block_hash", "truncated varint in the CAR slice") from exc


class Blocks:
    """The hash-checked blocks of a CAR slice: raw bytes by CID bytes, decoded on demand."""

    __slots__ = ("raw", "roots", "_decoded")

    def __init__(self, raw: dict[bytes, bytes], roots: list[bytes]) -> None:
        self.raw = raw
        self.roots = roots
        self._decoded: dict[bytes, Any] = {}

    def get(self, cid: bytes) -> Any:
        """The decoded block, or None when the slice does not hold it."""
        if cid in self._decoded:
            return self._decoded[cid]
        data = self.raw.get(cid)
        if data is None or cid[1] != _DAG_CBOR:
            return None
        try:
            value = libipld.decode_dag_cbor(data)
        except (ValueError, TypeError, OverflowError, RecursionError):
            # untrusted input: a block may hash to its CID and still not be DAG-CBOR; then it proves nothing
            value = None
        self._decoded[cid] = value
        return value


def read_car(data: bytes) -> Blocks:
    """Parse a CAR v1 slice and check every block against its CID (CIDv1, sha2-256 only, as the
    repository spec requires). Raises VerificationError("block_hash") on any mismatch."""
    view = memoryview(data)
    size, offset = _varint(data, 0)
    try:
        header = libipld.decode_dag_cbor(bytes(view[offset:offset + size]))
    except (ValueError, TypeError) as exc:
        raise VerificationError("block_hash", "unreadable CAR header") from exc
    if not isinstance(header, dict) or header.get("version") != 1:
        raise VerificationError("block_hash", "not a CAR v1 slice")
    roots = [r for r in header.get("roots") or [] if isinstance(r, bytes)]
    offset += size
    raw: dict[bytes, bytes] = {}
    while offset < len(data):
        length, start = _varint(data, offset)
        end = start + length
        if end > len(data):
            raise VerificationError("block_hash", "truncated CAR block")
        version, pos = _varint(data, start)
        codec, pos = _varint(data, pos)
        hash_code, pos = _varint(data, pos)
        digest_size, pos = _varint(data, pos)
        if version != 1 or codec not in (_DAG_CBOR, _RAW) or hash_code != _SHA256 or digest_size != 32:
            raise VerificationError("block_hash", "a block's CID is not CIDv1 sha2-256")
        cid_end = pos + 32
        if cid_end > end:
            raise VerificationError("block_hash", "truncated CAR block")
        block = bytes(view[cid_end:end])
        if hashlib.sha256(block).digest() != data[pos:cid_end]:
            # untrusted input: the bytes are not what the CID names
            raise VerificationError("block_hash", "a block does not match its CID")
        raw[bytes(view[start:cid_end])] = block
        offset = end
    return Blocks(raw, roots)


# --- keys and signatures ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PublicKey:
    key: ec.EllipticCurvePublicKey
    order: int
    # A secp256k1 key also in libsecp256k1's form (coincurve): it verifies in about a fifteenth of
    # the time OpenSSL's generic curve code takes (0.04 against 0.6 ms here), and most repositories'
    # keys are secp256k1. P-256 keys stay with OpenSSL, which is fast on that curve.
    secp256k1: coincurve.PublicKey | None = None


_KEYS: dict[str, PublicKey] = {}
_KEYS_LOCK = threading.Lock()
_KEYS_MAX = 50_000


def public_key_from_multikey(multibase: str) -> PublicKey:
    """A Multikey (`z` + base58btc of multicodec prefix + compressed point), parsed once per process."""
    hit = _KEYS.get(multibase)
    if hit is not None:
        return hit
    try:
        base, data = libipld.decode_multibase(multibase)
    except (ValueError, TypeError) as exc:
        raise KeyUnavailable("the signing key is not multibase") from exc
    if base != "z":
        raise KeyUnavailable("the signing key is not base58btc")
    if data.startswith(_SECP256K1_PUB):
        curve: ec.EllipticCurve = ec.SECP256K1()
        order = _SECP256K1_N
    elif data.startswith(_P256_PUB):
        curve, order = ec.SECP256R1(), _P256_N
    else:
        raise KeyUnavailable("the signing key is neither secp256k1 nor P-256")
    try:
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve, data[2:])
        fast = coincurve.PublicKey(data[2:]) if order == _SECP256K1_N else None
    except ValueError as exc:
        raise KeyUnavailable("the signing key is not a point on its curve") from exc
    parsed = PublicKey(key, order, fast)
    with _KEYS_LOCK:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()  # bounded: start over rather than grow with every author ever seen
        _KEYS[multibase] = parsed
    return parsed


# Older DID documents (the PLC directory's legacy form) name the curve in the method's type and give
# the bare point, without a multicodec prefix.
_LEGACY_TYPES = {"EcdsaSecp256k1VerificationKey2019": (_SECP256K1_PUB, ec.SECP256K1()),
                 "EcdsaSecp256r1VerificationKey2019": (_P256_PUB, ec.SECP256R1())}


def signing_key_in(document: dict[str, Any], did: str) -> str:
    """The `#atproto` verification method's public key of a DID document, as a Multikey."""
    for method in document.get("verificationMethod") or []:
        if not isinstance(method, dict) or method.get("id") not in ("#atproto", f"{did}#atproto"):
            continue
        multibase, kind = method.get("publicKeyMultibase"), method.get("type")
        if not isinstance(multibase, str):
            break
        if kind == "Multikey":
            return multibase
        if kind in _LEGACY_TYPES:
            return _multikey_from_legacy(multibase, *_LEGACY_TYPES[kind])
        break
    raise KeyUnavailable("the DID document names no atproto signing key")


@lru_cache(maxsize=4096)  # a document is read for every kept commit: convert each key once
def _multikey_from_legacy(multibase: str, prefix: bytes, curve: ec.EllipticCurve) -> str:
    try:
        base, point = libipld.decode_multibase(multibase)
        key = ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except (ValueError, TypeError) as exc:
        raise KeyUnavailable("the signing key is not a point on its curve") from exc
    if base != "z":
        raise KeyUnavailable("the signing key is not base58btc")
    compressed = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint)
    return str(libipld.encode_multibase("z", prefix + compressed))


def signature_valid(key: PublicKey, signature: bytes, message: bytes) -> bool:
    if len(signature) != 64:
        return False
    r = int.from_bytes(signature[:32], "big")
    s = int.from_bytes(signature[32:], "big")
    if not (0 < r < key.order and 0 < s <= key.order // 2):
        return False  # high-S (malleable) or out of range
    if key.secp256k1 is not None:
        return key.secp256k1.verify(encode_dss_signature(r, s), message, hasher=_sha256)
    try:
        key.key.verify(encode_dss_signature(r, s), message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def _sha256(message: bytes) -> bytes:
    return hashlib.sha256(message).digest()


# --- the commit and the tree -----------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SignedCommit:
    did: str
    rev: str
    data: bytes  # the tree root's CID
    sig: bytes
    unsigned: bytes  # the DAG-CBOR the signature covers


def signed_commit(blocks: Blocks, cid: Any) -> SignedCommit:
    commit = blocks.get(cid) if isinstance(cid, bytes) else None
    if not isinstance(commit, dict):
        raise VerificationError("bad_commit", "the commit block is missing")
    did, rev, data, sig = commit.get("did"), commit.get("rev"), commit.get("data"), commit.get("sig")
    if commit.get("version") != 3 or not isinstance(did, str) or not isinstance(rev, str) \
            or not isinstance(data, bytes) or not isinstance(sig, bytes):
        raise VerificationError("bad_commit", "the commit object is not a signed v3 commit")
    unsigned = libipld.encode_dag_cbor({k: v for k, v in commit.items() if k != "sig"})
    return SignedCommit(did=did, rev=rev, data=data, sig=sig, unsigned=unsigned)


def mst_lookup(blocks: Blocks, root: bytes, key: bytes) -> bytes | None:
    """The value CID stored under `key` in the tree rooted at `root`, or None when the tree proves
    it absent. Raises VerificationError("proof") when a node on the way is missing or malformed."""
    cid: Any = root
    for _ in range(_MAX_TREE_DEPTH):
        node = blocks.get(cid) if isinstance(cid, bytes) else None
        if not isinstance(node, dict) or not isinstance(entries := node.get("e"), list):
            raise VerificationError("proof", "a tree node on the path is missing from the commit")
        subtree = node.get("l")
        previous = b""
        for entry in entries:
            prefix, suffix = (entry.get("p"), entry.get("k")) if isinstance(entry, dict) else (None, None)
            if type(prefix) is not int or not isinstance(suffix, bytes) or not 0 <= prefix <= len(previous):
                raise VerificationError("proof", "a tree entry is malformed")
            full = previous[:prefix] + suffix
            if full == key:
                value = entry.get("v")
                if not isinstance(value, bytes):
                    raise VerificationError("proof", "a tree entry is malformed")
                return value
            if key < full:
                break  # the key can only be in the subtree left of this entry
            subtree = entry.get("t")
            previous = full
        if subtree is None:
            return None  # no subtree where the key would be: proven absent
        cid = subtree
    raise VerificationError("proof", "the tree is deeper than any real repository")


def rev_seconds(rev: str) -> float | None:
    """The time a rev (TID: 13 base32-sortable characters, 53 bits of microseconds, 10 of clock
    id) names, in seconds since the epoch; None when it is not a TID."""
    if len(rev) != 13 or rev[0] not in _TID_ALPHABET[:16]:
        return None
    value = 0
    for char in rev:
        digit = _TID_VALUES.get(char)
        if digit is None:
            return None
        value = value * 32 + digit
    return (value >> 10) / 1_000_000


# --- the verifier ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class OpClaim:
    """What a frame claims an operation did: `cid` is the new record's CID (None for a delete)."""

    path: str
    action: str
    cid: bytes | None


KeySource = Callable[[str, bool], str]  # (did, fresh) -> the multibase signing key; KeyUnavailable


class RevStore(Protocol):
    """Where the last accepted rev of each repository outlives the process (a cache, a table)."""

    def get(self, did: str) -> str | None: ...

    def put(self, did: str, rev: str) -> None: ...


class CommitVerifier:
    """Checks commits against their authors' keys. `keys(did, fresh)` gives the DID document's
    current signing key (cached by the caller; `fresh=True` asks again). A failed signature asks
    once more with `fresh=True` (the author may have rotated their key), at most once per
    `refresh_seconds` per DID, so a relay sending forgeries cannot make us hammer the directory.

    Replays: the last accepted `rev` of each repository is kept (in memory, bounded, and in `revs`
    when given, so a restart does not forget it); a commit not newer is refused. The caller calls
    `accept` once it has applied a verified commit (a commit that failed to apply stays
    receivable). `#sync` moves it (`sync_accept`), `#identity` makes the next check ask again."""

    def __init__(self, *, keys: KeySource, revs: RevStore | None = None, max_repos: int = 200_000,
                 refresh_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.keys = keys
        self.wall_clock = wall_clock
        self.revs = revs
        self.max_repos = max_repos
        self.refresh_seconds = refresh_seconds
        self.clock = clock
        self._revs: dict[str, str] = {}
        self._stale: set[str] = set()
        self._refreshed: dict[str, float] = {}

    def identity_changed(self, did: str) -> None:
        """An `#identity` event: the next check fetches the DID document again."""
        if len(self._stale) < self.max_repos:
            self._stale.add(did)

    def _check_signature(self, commit: SignedCommit) -> None:
        did = commit.did
        fresh = did in self._stale
        for attempt in range(2):
            try:
                key = public_key_from_multikey(self.keys(did, fresh))
            except KeyUnavailable as exc:
                raise VerificationError("no_key", "the author's signing key is unavailable") from exc
            self._stale.discard(did)
            if signature_valid(key, commit.sig, commit.unsigned):
                return
            now = self.clock()
            if fresh or attempt or now - self._refreshed.get(did, -self.refresh_seconds) < self.refresh_seconds:
                break
            if len(self._refreshed) >= self.max_repos:
                self._refreshed.clear()
            self._refreshed[did] = now
            fresh = True  # once: the key may have been rotated since we cached the document
        raise VerificationError("signature", "the commit is not signed by the author's key")

    def verify(self, *, repo: str, rev: str, commit: Any, blocks: Blocks, ops: list[OpClaim]) -> SignedCommit:
        """Prove that `repo` signed a commit whose tree holds each op's record (or lacks it, for a
        delete), newer than the last accepted one. Raises VerificationError (only)."""
        try:
            return self._verify(repo=repo, rev=rev, commit=commit, blocks=blocks, ops=ops)
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            # untrusted input of a shape no check above foresaw: a refusal, never a crash
            raise VerificationError("bad_commit", f"unusable commit ({type(exc).__name__})") from exc

    def _verify(self, *, repo: str, rev: str, commit: Any, blocks: Blocks, ops: list[OpClaim]) -> SignedCommit:
        signed = signed_commit(blocks, commit)
        if signed.did != repo:
            raise VerificationError("wrong_repo", "the commit belongs to another repository")
        if signed.rev != rev:
            raise VerificationError("bad_commit", "the frame's rev is not the commit's")
        self._check_signature(signed)
        self._check_rev_time(signed.rev)
        for op in ops:
            found = mst_lookup(blocks, signed.data, op.path.encode())
            if op.action == "delete":
                if found is not None:
                    raise VerificationError("proof", "a deleted record is still in the signed tree")
            elif found is None or found != op.cid or op.cid not in blocks.raw:
                raise VerificationError("proof", "the signed tree does not hold the record")
        last = self._last(repo)
        if last is not None and signed.rev <= last:
            # TIDs sort as text: not newer than a commit already applied means an old one replayed
            raise VerificationError("replay", "the commit is not newer than one already seen")
        return signed

    def _check_rev_time(self, rev: str) -> None:
        seconds = rev_seconds(rev)
        if seconds is None:
            raise VerificationError("bad_commit", "the commit's rev is not a TID")
        if seconds > self.wall_clock() + FUTURE_REV_SECONDS:
            raise VerificationError("future_rev", "the commit's rev is ahead of our clock")

    def accept(self, did: str, rev: str) -> None:
        """A verified commit was applied: older (and equal) revs of `did` are replays from now on."""
        self._remember(did, rev)
        if self.revs is not None:
            self.revs.put(did, rev)

    def _last(self, did: str) -> str | None:
        rev = self._revs.get(did)
        if rev is None and self.revs is not None:
            rev = self.revs.get(did)
            if rev is not None:
                self._remember(did, rev)
        return rev

    def sync_accept(self, *, did: str, rev: str, blocks: Blocks) -> None:
        """A `#sync` event: the repository's state is now the signed commit in its slice (a reset:
        later commits are checked against this rev). Refuses one that is not signed by `did`."""
        try:
            self._sync_accept(did=did, rev=rev, blocks=blocks)
        except (ValueError, TypeError, KeyError, OverflowError, RecursionError) as exc:
            raise VerificationError("bad_commit", f"unusable sync ({type(exc).__name__})") from exc

    def _sync_accept(self, *, did: str, rev: str, blocks: Blocks) -> None:
        roots = blocks.roots
        signed = signed_commit(blocks, roots[0] if roots else None)
        if signed.did != did:
            raise VerificationError("wrong_repo", "the commit belongs to another repository")
        if signed.rev != rev:
            raise VerificationError("bad_commit", "the frame's rev is not the commit's")
        self._check_signature(signed)
        self._check_rev_time(signed.rev)
        last = self._last(did)
        if last is not None and signed.rev < last:
            raise VerificationError("replay", "the sync is older than a commit already seen")
        self.accept(did, signed.rev)

    def _remember(self, did: str, rev: str) -> None:
        if did not in self._revs and len(self._revs) >= self.max_repos:
            # bounded: drop the oldest half (dicts keep insertion order) rather than grow forever
            for stale in list(self._revs)[: self.max_repos // 2]:
                del self._revs[stale]
        self._revs.pop(did, None)  # re-inserted last: the most recently active stay
        self._revs[did] = rev
