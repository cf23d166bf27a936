"""Issue 40: the consumer believes only what repositories signed. Between the official PDS's
subscribeRepos and the real consumer sits a proxy of ours on loopback, as a compromised relay
would: it passes genuine frames through, and alters others in flight (a record byte, a record and
its CID, the repository's DID, the signature, an old commit replayed). Genuine frames are kept;
every altered one is refused, counted by reason, and nothing of it is stored."""

from __future__ import annotations

import secrets
import threading
from urllib.parse import urlsplit

import httpx
import libipld
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect
from websockets.sync.server import serve

from bluesky.atproto.firehose import subscribe_url
from core.metrics import FIREHOSE_FRAMES_REFUSED
from elonara import atrecords
from network.firehose import FirehoseConsumer
from network.models import NetworkEvent
from tests.network.frames import tamper
from tests.network.test_network_peer import event_record, network_settings  # noqa: F401 - the fixture

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]

EVENT = atrecords.EVENT_NSID


class TamperingProxy:
    """subscribeRepos on loopback, reading the PDS's. Calendar commits of `repo` follow `plan` in
    order: None passes the frame, a `tamper` kind alters it, "replay" passes it and then sends the
    first calendar commit again under a later sequence number."""

    def __init__(self, upstream: str, *, repo: str, plan: list[str | None], other_did: str) -> None:
        self.upstream, self.repo, self.plan, self.other_did = upstream, repo, list(plan), other_did
        self.genuine: list[bytes] = []
        self.connected, self.done, self.closing = threading.Event(), threading.Event(), threading.Event()
        self.server = serve(self.handler, "127.0.0.1", 0, max_size=None)
        self.url = f"http://127.0.0.1:{self.server.socket.getsockname()[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handler(self, ws) -> None:
        query = urlsplit(ws.request.path).query
        url = subscribe_url(self.upstream, cursor=None) + (f"?{query}" if query else "")
        with connect(url, max_size=None) as upstream:
            self.connected.set()
            while not self.closing.is_set():
                try:
                    data = upstream.recv(timeout=0.5)
                except TimeoutError:
                    continue
                try:
                    for out in self.alter(data):
                        ws.send(out)
                except ConnectionClosed:
                    return

    def alter(self, data: bytes) -> list[bytes]:
        header, body = libipld.decode_dag_cbor_multi(data)
        ours = header.get("t") == "#commit" and body.get("repo") == self.repo and any(
            op["path"].startswith(EVENT) for op in body.get("ops", []))
        if not ours or not self.plan:
            return [data]
        how = self.plan.pop(0)
        if not self.plan:
            self.done.set()
        if how is None:
            self.genuine.append(data)
            return [data]
        if how == "replay":
            return [data, tamper(self.genuine[0], "replay", seq=body["seq"] + 1)]
        return [tamper(data, how, did=self.other_did)]

    def close(self) -> None:
        self.closing.set()
        self.server.shutdown()


def _fresh_account(pds_url: str) -> tuple[str, httpx.Client]:
    """An account of this test alone (other sessions write to the shared peer too)."""
    client = httpx.Client(base_url=pds_url, timeout=15)
    handle = f"v{secrets.token_hex(4)}.test"
    body = client.post("/xrpc/com.atproto.server.createAccount", json={
        "handle": handle, "email": f"{handle}@example.test", "password": secrets.token_urlsafe(16)}).raise_for_status()
    client.headers["Authorization"] = f"Bearer {body.json()['accessJwt']}"
    return body.json()["did"], client


def test_genuine_frames_are_kept_and_frames_altered_in_flight_are_refused(peer, accounts, network_settings):  # noqa: F811
    network_settings.CELERY_TASK_ALWAYS_EAGER = False  # profile reads of the creator: not needed here
    did, writer = _fresh_account(peer.pds_url)
    plan = [None, "record_byte", "record", "repo", "signature", "replay", None]
    proxy = TamperingProxy(peer.pds_url, repo=did, plan=plan, other_did=accounts["alice"].did)
    reasons = ("block_hash", "proof", "wrong_repo", "signature", "replay")
    before = {reason: FIREHOSE_FRAMES_REFUSED.labels(reason=reason)._value.get() for reason in reasons}
    stop = threading.Event()
    names = ["Genuine", "Altered byte", "Altered record", "Someone else's", "Unsigned"]
    created: list[dict] = []

    def write() -> None:
        try:
            if not proxy.connected.wait(20):
                return
            stop.wait(0.5)  # the consumer reads from the present: let it subscribe first
            for name in names:
                created.append(writer.post("/xrpc/com.atproto.repo.createRecord", json={
                    "repo": did, "collection": EVENT, "record": event_record(name)}).raise_for_status().json())
            rkey = created[0]["uri"].rsplit("/", 1)[-1]
            writer.post("/xrpc/com.atproto.repo.putRecord", json={
                "repo": did, "collection": EVENT, "rkey": rkey,
                "record": event_record("Genuine, moved")}).raise_for_status()
            created.append(writer.post("/xrpc/com.atproto.repo.createRecord", json={
                "repo": did, "collection": EVENT, "record": event_record("After")}).raise_for_status().json())
            proxy.done.wait(20)
            stop.wait(3.0)  # the consumer handles what it was sent (milliseconds)
        finally:
            stop.set()

    writing = threading.Thread(target=write, daemon=True)
    writing.start()
    try:
        FirehoseConsumer(source=proxy.url, stop=stop).run()
    finally:
        stop.set()
        proxy.close()
        writer.close()
        writing.join(30)
    assert proxy.done.is_set(), "the proxy did not see every commit of the plan"
    # (Other sessions write to the shared peer too: only this test's account is looked at.)
    kept = dict(NetworkEvent.objects.filter(creator__did=did).values_list("uri", "name"))
    assert kept == {created[0]["uri"]: "Genuine, moved", created[-1]["uri"]: "After"}
    assert not NetworkEvent.objects.filter(uri__contains=accounts["alice"].did, name__in=names).exists()
    refused = {reason: FIREHOSE_FRAMES_REFUSED.labels(reason=reason)._value.get() - before[reason]
               for reason in reasons}
    assert refused == dict.fromkeys(reasons, 1)
