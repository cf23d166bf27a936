"""Shared set-up for the invitation sending benchmarks (not a benchmark itself).

Needs PostgreSQL + Redis (`scripts/test-services.sh start DIR; . DIR/services.env`) and the test
peer: ELONARA_PEER_STATE=<state file of `python -m tests.peer start`>, or one is started here.
A fresh database is created for the run (and dropped afterwards) next to DATABASE_URL's.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _require(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        sys.exit(f"{name} is not set: run `scripts/test-services.sh start DIR` and `. DIR/services.env` first")
    return value


@contextmanager
def fresh_database(db_url: str):
    """A new PostgreSQL database beside `db_url`'s for one run; dropped afterwards."""
    import psycopg

    name = f"bench_inv_{secrets.token_hex(4)}"
    parts = urlsplit(db_url)
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        from django.db import connections

        connections.close_all()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def bench_environment(*, pacing: bool, extra_env: dict[str, str] | None = None):
    """Yields (peer, settings env) with Django set up on a fresh database; cleans everything up."""
    from cryptography.fernet import Fernet

    from tests.peer.runtime import PeerProcess, PeerState

    db_url = _require("DATABASE_URL")
    _require("CELERY_BROKER_URL")
    stack = ExitStack()
    state_file = os.environ.get("ELONARA_PEER_STATE")
    if state_file:
        peer = PeerState.load(state_file)
    else:
        process = PeerProcess()
        stack.callback(process.stop)
        peer = process.start()
    bench_db_url = stack.enter_context(fresh_database(db_url))
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "DATABASE_URL": bench_db_url,
        "ATPROTO_ALLOW_INSECURE_HOSTS": "true",
        "ATPROTO_HANDLE_RESOLVER_URL": peer.pds_url.rstrip("/"),
        "ATPROTO_PLC_URL": peer.plc_url.rstrip("/"),
        "BLUESKY_APPVIEW": f"{peer.appview_did}#bsky_appview",
        "BLUESKY_WRITES_MODE": "legacy",
        "BLUESKY_RELAY_IDENTIFIER": "",
        "BLUESKY_RELAY_APP_PASSWORD": "",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "INVITATIONS_PACING_ENABLED": "true" if pacing else "false",
        "INVITATIONS_DAILY_CAP_PER_HOST": "1000000",
        "INVITATIONS_DAILY_CAP_NEW_HOST": "1000000",  # the benchmark host joined a moment ago
        "CELERY_VISIBILITY_TIMEOUT": "30",
        # The broker holds only what is due this soon, well inside the visibility timeout (README).
        "INVITATIONS_DISPATCH_HORIZON_SECONDS": "10",
        **(extra_env or {}),
    }
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from config.celery import app

    app.control.purge()
    try:
        yield peer, env
    finally:
        try:
            app.control.purge()
        finally:
            stack.close()


def make_host_and_event(peer, *, title: str):
    """alice as a host posting with her app password (legacy agent), and an event of hers."""
    from datetime import timedelta

    from django.utils import timezone

    from bluesky import services as bluesky_services
    from elonara import services as elonara_services
    from members.models import Member

    alice = peer.accounts["alice"]
    host = Member.objects.create_user(username=f"alice-{secrets.token_hex(3)}", password=None)
    bluesky_services.member_app_password_set(member=host, identifier=alice.handle, app_password=alice.app_password)
    event = elonara_services.event_create(
        host=host, title=title, starts_at=timezone.now() + timedelta(days=1),
        ends_at=timezone.now() + timedelta(days=1, hours=2), venue="Bench hall",
    )
    return host, event


def guests(n: int, tag: str):
    from bluesky.graph import GraphProfile

    alphabet = "234567abcdefghijklmnopqrstuvwxyz"
    out = []
    for i in range(n):
        suffix = "".join(secrets.choice(alphabet) for _ in range(24))
        out.append(GraphProfile(did=f"did:plc:{suffix}", handle=f"{tag}{i}.test", display_name=f"Guest {i}",
                                avatar_url=""))
    return out


def wait_all_final(batch_id: int, *, timeout: float) -> float:
    from invitations.models import Invitation

    final = {Invitation.Status.SENT, Invitation.Status.FAILED}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        statuses = set(Invitation.objects.filter(batch_id=batch_id).values_list("status", flat=True).distinct())
        if statuses and statuses <= final:
            return time.monotonic()
        time.sleep(0.1)
    return time.monotonic()
