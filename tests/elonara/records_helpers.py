"""Helpers for the calendar-record tests against the official PDS: reading repos as any app would,
and writing to an account's repo directly, as another AT Protocol app would."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import httpx
from django.conf import settings
from django.utils import timezone

from bluesky import services as bluesky_services
from elonara import services
from network.models import FirehoseCursor
from tests.celery_worker import subprocess_database_url
from tests.invitations.peer_helpers import worker_env


def get_record(peer, uri: str) -> httpx.Response:
    did, collection, rkey = uri.removeprefix("at://").split("/")
    with httpx.Client(base_url=peer.pds_url, timeout=10) as client:
        return client.get("/xrpc/com.atproto.repo.getRecord",
                          params={"repo": did, "collection": collection, "rkey": rkey})


def list_records(peer, did: str, collection: str) -> list[dict]:
    # Every page: a long-lived peer (one kept running across test sessions) holds more than one.
    records: list[dict] = []
    params = {"repo": did, "collection": collection, "limit": 100}
    with httpx.Client(base_url=peer.pds_url, timeout=10) as client:
        while True:
            body = client.get("/xrpc/com.atproto.repo.listRecords", params=params).raise_for_status().json()
            records.extend(body["records"])
            if not body.get("cursor") or not body["records"]:
                return records
            params["cursor"] = body["cursor"]


class OtherApp:
    """Another AT Protocol app writing to an account's repository with its own session."""

    def __init__(self, peer, account) -> None:
        self.did = account.did
        self.client = httpx.Client(base_url=peer.pds_url, timeout=10)
        body = self.client.post("/xrpc/com.atproto.server.createSession",
                                json={"identifier": account.handle, "password": account.app_password})
        self.client.headers["Authorization"] = f"Bearer {body.raise_for_status().json()['accessJwt']}"

    def create(self, collection: str, record: dict, rkey: str | None = None) -> dict:
        body = {"repo": self.did, "collection": collection, "record": record}
        if rkey:
            body["rkey"] = rkey
        return self.client.post("/xrpc/com.atproto.repo.createRecord", json=body).raise_for_status().json()

    def put(self, collection: str, rkey: str, record: dict) -> dict:
        return self.client.post("/xrpc/com.atproto.repo.putRecord", json={
            "repo": self.did, "collection": collection, "rkey": rkey, "record": record}).raise_for_status().json()

    def delete(self, collection: str, rkey: str) -> None:
        self.client.post("/xrpc/com.atproto.repo.deleteRecord", json={
            "repo": self.did, "collection": collection, "rkey": rkey}).raise_for_status()

    def close(self) -> None:
        self.client.close()


def connect_app_password(member, account) -> None:
    bluesky_services.member_app_password_set(member=member, identifier=account.handle,
                                             app_password=account.app_password)


def new_event(host, **extra):
    start = timezone.now() + timedelta(days=7)
    fields = {"title": "Picnic in the park", "starts_at": start, "ends_at": start + timedelta(hours=3),
              "time_zone": "Europe/Lisbon", "venue": "Jardim da Estrela", "country": "pt", "locality": "Lisboa",
              "online_url": "https://meet.example/picnic", "description": "Bring food ☀️"}
    fields.update(extra)
    return services.event_create(host=host, **fields)


def wait_for(check: Callable[[], object], *, timeout: float = 20.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


class ConsumerProcess:
    """The real consumer: `manage.py consume_firehose` in its own process, on the test database
    (PostgreSQL: a database other processes can share), reading the PDS's firehose."""

    def __init__(self, peer, *, log_path: str) -> None:
        self.peer = peer
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict[str, str]:
        env = {**os.environ, **worker_env(self.peer), "DJANGO_SETTINGS_MODULE": "config.settings_test",
               "DATABASE_URL": subprocess_database_url(), "BLUESKY_FIREHOSE_URL": self.peer.pds_url,
               "CELERY_BROKER_URL": "memory://"}
        return env

    def start(self) -> ConsumerProcess:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "manage.py", "consume_firehose"], cwd=settings.BASE_DIR,
                                     env=self.env(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        return self

    def start_synced(self, app: OtherApp) -> ConsumerProcess:
        """Start, and return once it reads the stream (without a stored cursor it starts at the
        present: anything written before it connected would not be seen)."""
        self.start()
        source = self.peer.pds_url.rstrip("/")
        deadline = time.monotonic() + 30
        while not FirehoseCursor.objects.filter(source=source, seq__gt=0).exists():
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise AssertionError(f"the consumer did not start reading; see {self.log_path}")
            app.create("app.bsky.feed.post", {"$type": "app.bsky.feed.post", "text": "marker",
                                              "createdAt": "2026-11-26T10:00:00.000Z"})
            time.sleep(0.5)
        return self

    def kill(self) -> None:
        """SIGKILL: no clean-up, no last checkpoint."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> int | None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode if self.proc else None
