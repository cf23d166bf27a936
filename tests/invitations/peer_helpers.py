"""Helpers for invitations tests against the official PDS + App View and a real Celery worker."""

from __future__ import annotations

import os
import time

import httpx
from django.conf import settings
from django.test import Client

from invitations.models import Invitation
from tests.celery_worker import celery_worker  # noqa: F401 - re-exported for the tests

FINAL = {Invitation.Status.SENT, Invitation.Status.FAILED}


def configure_for_peer(settings_fixture, peer) -> None:
    settings_fixture.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings_fixture.ATPROTO_HANDLE_RESOLVER_URL = peer.pds_url.rstrip("/")
    settings_fixture.ATPROTO_PLC_URL = peer.plc_url.rstrip("/")
    settings_fixture.BLUESKY_APPVIEW = f"{peer.appview_did}#bsky_appview"
    settings_fixture.BLUESKY_RELAY_IDENTIFIER = ""
    settings_fixture.BLUESKY_RELAY_APP_PASSWORD = ""


def worker_env(peer, **extra: str) -> dict[str, str]:
    """What a worker process needs to post like this test process does (read by config/settings.py)."""
    env = {
        "ATPROTO_ALLOW_INSECURE_HOSTS": "true",
        "ATPROTO_HANDLE_RESOLVER_URL": peer.pds_url.rstrip("/"),
        "ATPROTO_PLC_URL": peer.plc_url.rstrip("/"),
        "BLUESKY_APPVIEW": f"{peer.appview_did}#bsky_appview",
        "FIELD_ENCRYPTION_KEYS": ",".join(settings.FIELD_ENCRYPTION_KEYS),
        "ELONARA_PUBLIC_URL": settings.ELONARA_PUBLIC_URL,
        # A killed worker's unacknowledged messages come back after this many seconds.
        "CELERY_VISIBILITY_TIMEOUT": "5",
        # ...so the broker holds only what is due sooner than that (invitations.E001).
        "INVITATIONS_DISPATCH_HORIZON_SECONDS": "3",
        "BLUESKY_RELAY_IDENTIFIER": "",
        "BLUESKY_RELAY_APP_PASSWORD": "",
    }
    env.update(extra)
    return env


def purge_queue() -> None:
    """Start from an empty broker queue (earlier tests may have left messages for rows now gone)."""
    from config.celery import app

    if os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        app.control.purge()


def posts_in_repo(peer, did: str) -> dict[str, dict]:
    """Every app.bsky.feed.post in the repo, rkey -> record, read as any client would (public)."""
    records: dict[str, dict] = {}
    cursor = None
    with httpx.Client(base_url=peer.pds_url, timeout=10) as client:
        while True:
            params = {"repo": did, "collection": "app.bsky.feed.post", "limit": 100}
            if cursor:
                params["cursor"] = cursor
            body = client.get("/xrpc/com.atproto.repo.listRecords", params=params).raise_for_status().json()
            for item in body["records"]:
                records[item["uri"].rsplit("/", 1)[-1]] = item["value"]
            cursor = body.get("cursor")
            if not cursor or not body["records"]:
                return records


def wait_until_final(batch_id: int, *, timeout: float) -> list[Invitation]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rows = list(Invitation.objects.filter(batch_id=batch_id))
        if rows and all(r.status in FINAL for r in rows):
            return rows
        time.sleep(0.3)
    return list(Invitation.objects.filter(batch_id=batch_id))


def connect_bluesky(client: Client, peer_consent, account) -> None:
    """The member behind `client` connects their Bluesky account: our connect view, the PDS's sign-in
    and consent (driven by the peer's helper), our callback view."""
    response = client.post("/bluesky/connect/", {"identifier": account.handle})
    assert response.status_code == 302, response.content[:500]
    answer = peer_consent(response["Location"], account)
    callback = client.get("/bluesky/callback/", answer)
    assert callback.status_code in (302, 200), callback.content[:500]
