"""Our client signing keys in the database: generated on first use, rotated by a command, and
cached briefly by each process (`client_keyset`)."""

from __future__ import annotations

import threading
import time

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bluesky.atproto import ClientKey, ClientKeyset
from bluesky.models import BlueskyIdentity, ClientSigningKey


def _create_active_key() -> ClientSigningKey:
    key = ClientKey.generate()
    return ClientSigningKey.objects.create(kid=key.kid, private_key_pem=key.to_pem(), public_jwk=key.public_jwk,
                                           is_active=True)


def client_key_ensure_active() -> ClientSigningKey:
    # Reading takes no lock (serving jwks.json must never wait for anything); only the very first
    # key is created under one, so two processes starting together make one key.
    active = ClientSigningKey.objects.filter(is_active=True).first()
    if active is not None:
        return active
    with transaction.atomic():
        active = ClientSigningKey.objects.select_for_update().filter(is_active=True).first()
        return active or _create_active_key()


def client_keys_published():
    """Keys whose public half belongs in the JWKS: the active one and retired ones still in use."""
    in_use = BlueskyIdentity.objects.exclude(client_kid="").values_list("client_kid", flat=True)
    return ClientSigningKey.objects.filter(Q(is_active=True) | Q(kid__in=in_use))


def client_keyset_load() -> ClientKeyset:
    active = client_key_ensure_active()
    keys = [ClientKey.from_pem(row.kid, row.private_key_pem) for row in client_keys_published()]
    return ClientKeyset(keys, active_kid=active.kid)


KEYSET_TTL = 60.0  # seconds a process trusts its copy of the signing keys
_keyset_lock = threading.Lock()
_keyset_cache: dict[str, tuple[float, ClientKeyset]] = {}


def client_keyset() -> ClientKeyset:
    """The signing keys from the database (shared by every process), cached briefly."""
    with _keyset_lock:
        hit = _keyset_cache.get("keyset")
        if hit and hit[0] > time.monotonic():
            return hit[1]
        keyset = client_keyset_load()
        _keyset_cache["keyset"] = (time.monotonic() + KEYSET_TTL, keyset)
        return keyset


def client_keyset_forget() -> None:
    """Drop this process's copy (after a rotation, or when settings change in tests)."""
    with _keyset_lock:
        _keyset_cache.clear()


@transaction.atomic
def client_key_rotate() -> tuple[ClientSigningKey, int]:
    """Make a new active key; retire the old one; forget retired keys no identity uses any more."""
    now = timezone.now()
    ClientSigningKey.objects.select_for_update().filter(is_active=True).update(is_active=False, retired_at=now)
    new = _create_active_key()
    in_use = BlueskyIdentity.objects.exclude(client_kid="").values_list("client_kid", flat=True)
    dropped, _ = ClientSigningKey.objects.filter(is_active=False).exclude(kid__in=in_use).delete()
    client_keyset_forget()
    return new, dropped
