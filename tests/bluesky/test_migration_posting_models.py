"""The `bluesky_agents` app joined `bluesky`: a database made and filled by the code before that
change migrates forward with nothing lost.

The old tree is taken from git (the last commit with `bluesky/agents/models.py`), migrated and
filled through its own models and services in a subprocess, then this tree migrates the same
database and reads everything back through the new models, secrets decrypted.
"""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest

REPO = Path(__file__).resolve().parents[2]
# The last commit where the posting models lived in their own app.
BEFORE_FOLD = "cae5b5c845a32f94ec8345f1ef13e47dedd349ec"
KEY = "Keof7XbqthEuNqL3aTUnsmpgRkixJB_7hCEXhGq7PAQ="

FILL = """
import json
from datetime import timedelta
from django.utils import timezone
from members.models import Member
from bluesky.models import BlueskyIdentity
from bluesky.agents.models import AppPasswordSession, MemberAppPassword, RelayAccount, WritesModeChange
from bluesky.agents import services

staff = Member.objects.create_superuser(username="staff", email="s@x.org", password="pw-123456")
ana = Member.objects.create_user(username="ana", password="pw-123456")
BlueskyIdentity.objects.create(
    member=ana, did="did:plc:ewvi7nxzyoun6zhxrhs64oiz", handle="ana.test", pds_url="https://pds.example.com",
    issuer="https://auth.example.com", scope="atproto transition:generic", access_token="oauth-access-secret",
    refresh_token="oauth-refresh-secret", dpop_private_jwk='{"kty":"EC"}', connected_at=timezone.now(),
)
MemberAppPassword.objects.create(member=ana, identifier="ana.test", did="did:plc:ewvi7nxzyoun6zhxrhs64oiz",
                                 handle="ana.test", app_password="abcd-efgh-ijkl-mnop")
AppPasswordSession.objects.create(
    account_key=f"member:{ana.pk}", identifier="ana.test", credential_fingerprint="f" * 64,
    did="did:plc:ewvi7nxzyoun6zhxrhs64oiz", handle="ana.test", pds_url="https://pds.example.com",
    access_jwt="legacy-access-secret", refresh_jwt="legacy-refresh-secret", create_count=2, refresh_count=5,
    access_expires_at=timezone.now() + timedelta(hours=1), last_error="",
)
services.relay_account_set(identifier="relay.test", app_password="wxyz-wxyz-wxyz-wxyz")
services.writes_mode_set(mode="oauth", changed_by=staff)
services.writes_mode_set(mode="legacy", changed_by=staff)
# Events, communities, RSVPs and invitations of that time (later migrations add columns to them).
from elonara import services as elonara_services
from bluesky.graph import GraphProfile
from invitations import services as invitation_services
community = elonara_services.community_create(creator=ana, name="Go players")
start = timezone.now() + timedelta(days=3)
event = elonara_services.event_create(host=ana, title="Board games", starts_at=start,
                                      ends_at=start + timedelta(hours=2), venue="Cafe", community=community)
elonara_services.rsvp_set(event=event, member=staff, status="going")
batch = invitation_services.invitations_enqueue(
    host=ana, target=event, message_template="",
    profiles=[GraphProfile(did="did:plc:z72i7hdynmk6r22z27h6tvur", handle="bob.test", display_name="Bob",
                           avatar_url="")]).batch
invitation = batch.invitations.get()
print(json.dumps({"ana": ana.pk, "staff": staff.pk, "token": invitation.token, "rkey": invitation.rkey}))
"""

READ = """
import json
from django.contrib.auth.models import Permission
from bluesky.models import (AppPasswordSession, BlueskyIdentity, MemberAppPassword, RelayAccount, WritesModeChange,
                            WritesModeSetting)
from bluesky.selectors import writes_mode_get
from bluesky.sessions import relay_credentials_get
from elonara.models import RSVP, Event
from invitations.models import Invitation

identity = BlueskyIdentity.objects.get()
app_password = MemberAppPassword.objects.get()
session = AppPasswordSession.objects.get()
relay = relay_credentials_get()
print(json.dumps({
    "identity": [identity.member_id, identity.access_token, identity.refresh_token],
    "app_password": [app_password.member_id, app_password.app_password, app_password.did],
    "session": [session.account_key, session.access_jwt, session.refresh_jwt, session.create_count,
                session.refresh_count],
    "relay": [relay.identifier, relay.app_password],
    "mode": writes_mode_get(),
    "setting_by": WritesModeSetting.objects.get().updated_by_id,
    "changes": [[c.changed_by_id, c.from_mode, c.to_mode] for c in WritesModeChange.objects.order_by("pk")],
    "relay_rows": RelayAccount.objects.count(),
    "event": list(Event.objects.values_list("title", "host_id", "community__name", "status")),
    "rsvps": list(RSVP.objects.values_list("member_id", "status")),
    "invitations": list(Invitation.objects.values_list("token", "rkey", "recipient_did", "host_id")),
    "permissions": sorted(Permission.objects.filter(content_type__app_label="bluesky",
                                                     codename__endswith="writesmodesetting")
                          .values_list("codename", flat=True)),
}))
"""


def _run(cwd: Path, env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _old_tree(tmp_path: Path) -> Path:
    old = tmp_path / "before"
    old.mkdir()
    archive = subprocess.run(["git", "archive", "--format=tar", BEFORE_FOLD], cwd=REPO, capture_output=True,
                             check=True, timeout=60)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True, timeout=60)
    return old


def _migrate_filled_database(tmp_path: Path, database_url: str) -> tuple[dict, dict]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": database_url,
           "FIELD_ENCRYPTION_KEYS": KEY, "CELERY_BROKER_URL": "memory://", "REDIS_URL": ""}
    old = _old_tree(tmp_path)
    _run(old, env, "migrate", "--noinput")
    ids = json.loads(_run(old, env, "shell", "-c", FILL).strip().splitlines()[-1])
    _run(REPO, env, "migrate", "--noinput")
    return ids, json.loads(_run(REPO, env, "shell", "-c", READ).strip().splitlines()[-1])


def _assert_nothing_lost(ids: dict, after: dict) -> None:
    ana, staff = ids["ana"], ids["staff"]
    assert after["identity"] == [ana, "oauth-access-secret", "oauth-refresh-secret"]
    assert after["app_password"] == [ana, "abcd-efgh-ijkl-mnop", "did:plc:ewvi7nxzyoun6zhxrhs64oiz"]
    assert after["session"] == [f"member:{ana}", "legacy-access-secret", "legacy-refresh-secret", 2, 5]
    assert after["relay"] == ["relay.test", "wxyz-wxyz-wxyz-wxyz"]
    assert after["mode"] == "legacy" and after["setting_by"] == staff
    assert after["changes"] == [[staff, "legacy", "oauth"], [staff, "oauth", "legacy"]]
    assert after["relay_rows"] == 1
    assert after["event"] == [["Board games", ana, "Go players", "scheduled"]]
    # elonara 0011 gives the old event's host (Ana) her own going answer beside Staff's.
    assert sorted(after["rsvps"]) == sorted([[staff, "going"], [ana, "going"]])
    assert after["invitations"] == [[ids["token"], ids["rkey"], "did:plc:z72i7hdynmk6r22z27h6tvur", ana]]
    # Staff permissions moved with the content types (no duplicate, none lost).
    assert after["permissions"] == ["add_writesmodesetting", "change_writesmodesetting",
                                    "delete_writesmodesetting", "view_writesmodesetting"]


def test_sqlite_database_from_before_the_fold_keeps_everything(tmp_path):
    ids, after = _migrate_filled_database(tmp_path, f"sqlite:///{tmp_path / 'db.sqlite3'}")
    _assert_nothing_lost(ids, after)


@pytest.mark.services
def test_postgresql_database_from_before_the_fold_keeps_everything(tmp_path):
    admin_url = os.environ.get("ELONARA_TEST_PG_ADMIN_URL")
    if not admin_url:
        pytest.fail("the services tier needs ELONARA_TEST_PG_ADMIN_URL (scripts/test-services.sh)")
    name = f"fold_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        ids, after = _migrate_filled_database(tmp_path, admin_url.rsplit("/", 1)[0] + f"/{name}")
        _assert_nothing_lost(ids, after)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
