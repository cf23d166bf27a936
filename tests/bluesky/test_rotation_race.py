"""`rotate_encryption_keys` while the site runs: a refresh that commits between the rotation's read
and its write keeps its new tokens (against the official PDS, on PostgreSQL)."""

import io
import threading
import time

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import call_command
from django.db import connection, transaction
from django.urls import reverse

from bluesky.crypto import encrypted_fields
from bluesky.models import BlueskyIdentity
from bluesky.sessions import OAuthPdsSession, identity_refresh
from members.models import Member

pytestmark = [pytest.mark.peer, pytest.mark.services, pytest.mark.django_db(transaction=True)]


def _wait_for_blocked_update(timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    with connection.cursor() as cursor:
        while time.monotonic() < deadline:
            # Inside a transaction the statistics views are a snapshot: take a fresh one each time.
            cursor.execute("SELECT pg_stat_clear_snapshot()")
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                           "AND query LIKE 'UPDATE%%bluesky_blueskyidentity%%'")
            if cursor.fetchone()[0]:
                return True
            time.sleep(0.05)
    return False


def test_rotation_racing_a_refresh_keeps_the_refreshed_tokens(client, loopback_app, accounts, peer_consent, settings):
    if connection.vendor != "postgresql":
        pytest.fail("the services tier runs on PostgreSQL")
    alice = accounts["alice"]
    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    client.force_login(member)
    started = client.post(reverse("bluesky:connect"), {"identifier": alice.handle})
    client.get(reverse("bluesky:callback"), peer_consent(started.url, alice))
    identity = BlueskyIdentity.objects.get(member=member)

    new_key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [new_key, *settings.FIELD_ENCRYPTION_KEYS]
    errors = []

    def rotate() -> None:
        try:
            call_command("rotate_encryption_keys", stdout=io.StringIO())
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    rotation = threading.Thread(target=rotate)
    # Hold the identity row as a committing refresh does: the rotation reads the old ciphertext,
    # then waits on this lock for its write; meanwhile a real refresh rotates the tokens.
    with transaction.atomic():
        BlueskyIdentity.objects.select_for_update().get(pk=identity.pk)
        rotation.start()
        assert _wait_for_blocked_update(), f"the rotation never reached the identity row ({errors})"
        refreshed = identity_refresh(identity_id=identity.pk, force=True)
    rotation.join(60)
    assert not rotation.is_alive() and errors == []

    stored = BlueskyIdentity.objects.get(pk=identity.pk)
    assert (stored.access_token, stored.refresh_token) == (refreshed.access_token, refreshed.refresh_token)
    # The session still works (the old access token died with the refresh).
    assert OAuthPdsSession.for_member(member).get("com.atproto.server.getSession")["did"] == alice.did
    # And every secret of the row is under the new key only.
    only_new = Fernet(new_key.encode())
    with connection.cursor() as cursor:
        columns = [BlueskyIdentity._meta.get_field(f).column for f in encrypted_fields(BlueskyIdentity)]
        cursor.execute(f"SELECT {', '.join(columns)} FROM bluesky_blueskyidentity WHERE id = %s", [identity.pk])
        for value in cursor.fetchone():
            if value:
                try:
                    only_new.decrypt(value.encode())
                except InvalidToken:
                    pytest.fail("a secret is still under the old key")
