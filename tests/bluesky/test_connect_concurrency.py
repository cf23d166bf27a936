"""Eight processes force a refresh of one identity at once: exactly one refresh reaches the server.

The official PDS deletes a session whose refresh token is replayed, so a second refresh would
leave the identity dead: the final getSession is the real check.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse

from bluesky.models import BlueskyIdentity
from bluesky.sessions import OAuthPdsSession
from members.models import Member
from tests.celery_worker import subprocess_database_url

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a database shared by processes (PostgreSQL)")
def test_eight_processes_refresh_once(client, loopback_app, peer, accounts, peer_consent, tmp_path):
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    client.force_login(member)
    response = client.post(reverse("bluesky:connect"), {"identifier": accounts["alice"].handle})
    client.get(reverse("bluesky:callback"), peer_consent(response.url, accounts["alice"]))
    identity = BlueskyIdentity.objects.get(member=member)
    seen = tmp_path / "seen-token"
    seen.write_text(identity.access_token)

    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "ATPROTO_ALLOW_INSECURE_HOSTS": "true",
           "ATPROTO_HANDLE_RESOLVER_URL": peer.pds_url, "ATPROTO_PLC_URL": peer.plc_url,
           "ELONARA_PUBLIC_URL": "http://127.0.0.1:8000",
           "FIELD_ENCRYPTION_KEYS": ",".join(loopback_app.FIELD_ENCRYPTION_KEYS)}
    start_at = time.time() + 4
    workers = [subprocess.Popen([sys.executable, "-m", "tests.bluesky.refresh_worker", str(identity.pk),
                                 str(seen), str(start_at)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for _ in range(8)]
    results = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err[-2000:]
        results.append(json.loads(out.strip().splitlines()[-1]))

    assert sum(r["refresh_grants"] for r in results) == 1
    assert all(r["rotated"] for r in results)
    session = OAuthPdsSession.for_member(member)
    assert session.get("com.atproto.server.getSession")["did"] == accounts["alice"].did
