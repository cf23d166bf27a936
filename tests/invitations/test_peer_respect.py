"""Respect on the official PDS and App View: a block written on the PDS takes the person out of the
invitation picker, with the reason, and out of what the API will send.

The shared peer's seeded accounts are used by other sessions at the same time, so the accounts
that block or are blocked here are fresh ones made by this test; the host is alice (her OAuth
session is what makes the App View say who blocks her).
"""

from __future__ import annotations

import secrets
import time
from datetime import timedelta

import httpx
import pytest
from django.test import Client
from django.utils import timezone

from bluesky import clients
from bluesky.graph import BlueskyGraphService, GraphProfile
from invitations import services
from invitations.models import Invitation
from members.models import Member
from tests.invitations.conftest import make_event, make_member
from tests.invitations.peer_helpers import configure_for_peer, connect_bluesky

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _peer_settings(settings, peer):
    configure_for_peer(settings, peer)
    clients.reset()
    yield
    clients.reset()


def _fresh_account(pds_url: str) -> tuple[str, httpx.Client]:
    client = httpx.Client(base_url=pds_url, timeout=15)
    handle = f"r{secrets.token_hex(4)}.test"
    body = client.post("/xrpc/com.atproto.server.createAccount", json={
        "handle": handle, "email": f"{handle}@example.test", "password": secrets.token_urlsafe(16)}).raise_for_status()
    client.headers["Authorization"] = f"Bearer {body.json()['accessJwt']}"
    return body.json()["did"], client


def _write(client: httpx.Client, did: str, collection: str, subject: str) -> str:
    return client.post("/xrpc/com.atproto.repo.createRecord", json={
        "repo": did, "collection": collection,
        "record": {"$type": collection, "subject": subject,
                   "createdAt": timezone.now().isoformat().replace("+00:00", "Z")}}).raise_for_status().json()["uri"]


def _delete(client: httpx.Client, uri: str) -> None:
    did, collection, rkey = uri.removeprefix("at://").split("/")
    client.post("/xrpc/com.atproto.repo.deleteRecord", json={"repo": did, "collection": collection, "rkey": rkey})


def _signed_in(pds_url: str, account) -> httpx.Client:
    client = httpx.Client(base_url=pds_url, timeout=15)
    body = client.post("/xrpc/com.atproto.server.createSession", json={
        "identifier": account.handle, "password": account.app_password}).raise_for_status().json()
    client.headers["Authorization"] = f"Bearer {body['accessJwt']}"
    return client


def _wait_for(check, *, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the App View did not index the block in time")
        time.sleep(0.3)


def test_a_block_written_on_the_pds_takes_the_person_out_of_the_picker_with_the_reason(peer, accounts, peer_consent):
    alice = accounts["alice"]
    host = make_member("alice")
    Member.objects.filter(pk=host.pk).update(date_joined=timezone.now() - timedelta(days=365))
    host.refresh_from_db()
    web = Client()
    web.force_login(host)
    connect_bluesky(web, peer_consent, alice)
    event = make_event(host=host, title="Respectful picnic")

    # One who blocks alice; one whom alice blocks. Neither follows her: alice's followers are seeded
    # state other tests count (and the App View would leave them out of the list anyway).
    blocker_did, blocker = _fresh_account(peer.pds_url)
    blocked_did, _blocked = _fresh_account(peer.pds_url)
    alice_pds = _signed_in(peer.pds_url, alice)
    written = [(blocker, _write(blocker, blocker_did, "app.bsky.graph.block", alice.did)),
               (alice_pds, _write(alice_pds, alice.did, "app.bsky.graph.block", blocked_did))]
    try:
        _check(host, web, event, blocker_did, blocked_did)
    finally:
        for client, uri in written:
            _delete(client, uri)


def _check(host, web, event, blocker_did: str, blocked_did: str) -> None:
    graph = BlueskyGraphService()

    def indexed() -> bool:
        states = graph.viewer_states(member=host, dids=[blocker_did, blocked_did])
        return (blocker_did in states and states[blocker_did].blocked_by
                and blocked_did in states and states[blocked_did].blocking)

    _wait_for(indexed)

    # The picker's page: were one of them listed, it is marked, with the reason in words.
    page = web.get(f"/api/invitations/event/{event.pk}/graph/followers/").json()
    by_did = {p["did"]: p for p in page["profiles"]}
    for did, reason, words in ((blocker_did, "blocked_by", "blocks you"), (blocked_did, "blocking", "you block them")):
        if did in by_did:
            assert (by_did[did]["invitable"], by_did[did]["reason"], by_did[did]["reason_text"]) == (
                False, reason, words)
    assert services.invitation_respect_refusals(host=host, dids=[blocker_did, blocked_did]) == {
        blocker_did: "blocked_by", blocked_did: "blocking"}

    # Asked through the API all the same: nothing is queued for them.
    created = web.post(f"/api/invitations/event/{event.pk}/", {"dids": [blocker_did, blocked_did]},
                       content_type="application/json")
    assert created.status_code in (200, 201), created.content[:300]
    assert created.json()["skipped"] == {blocker_did: "blocked_by", blocked_did: "blocking"}
    assert set(created.json()["skipped_text"].values()) == {"blocks you", "you block them"}
    assert not Invitation.objects.filter(recipient_did__in=[blocker_did, blocked_did]).exists()

    # Queued before the block was known (written as the bench does, without the graph checks): the
    # send path asks again and never posts.
    queued = services.invitations_enqueue(host=host, target=event, message_template="", profiles=[
        GraphProfile(did=blocker_did, handle="blocker.test", display_name="", avatar_url="")]).created
    outcome = services.invitation_send(invitation_id=queued[0].pk)
    queued[0].refresh_from_db()
    assert (outcome.status, queued[0].failure_code, queued[0].post_uri) == (Invitation.Status.FAILED, "blocked", "")
    assert "will not be sent" in queued[0].failure_reason
