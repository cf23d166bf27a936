"""Our client signing keys in the database: generated on first use, rotated by a command, and
cached briefly by each process (`client_keyset`).

Rollover: authorization servers cache our jwks.json (the official PDS for 600 s) and refuse a
client assertion signed with a key they have not seen ("no applicable key found"). So a rotation
publishes the new key at once and makes it sign only `BLUESKY_JWKS_CACHE_SECONDS` later
(`signs_from`); the first process to load the keys after that promotes it. The key it replaces
stays published for as long again (a server may have fetched the JWKS just before), and after
that while sessions bound to it live.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from bluesky.atproto import ClientKey, ClientKeyset
from bluesky.models import BlueskyIdentity, ClientSigningKey


def _create_active_key() -> ClientSigningKey:
    key = ClientKey.generate()
    return ClientSigningKey.objects.create(kid=key.kid, private_key_pem=key.to_pem(), public_jwk=key.public_jwk,
                                           is_active=True)


_PENDING = Q(is_active=False, retired_at__isnull=True, signs_from__isnull=False)


def _jwks_cache() -> timedelta:
    return timedelta(seconds=settings.BLUESKY_JWKS_CACHE_SECONDS)


def client_key_ensure_active() -> ClientSigningKey:
    # Reading takes no lock (serving jwks.json must never wait for anything); only the very first
    # key, and the promotion of a rotated one whose time came, happen under one.
    now = timezone.now()
    rows = list(ClientSigningKey.objects.filter(Q(is_active=True) | _PENDING))
    active = next((row for row in rows if row.is_active), None)
    due = [row for row in rows if not row.is_active and row.signs_from is not None and row.signs_from <= now]
    if active is not None and not due:
        return active
    with transaction.atomic():
        active = ClientSigningKey.objects.select_for_update().filter(is_active=True).first()
        due_row = (ClientSigningKey.objects.select_for_update().filter(_PENDING, signs_from__lte=now)
                   .order_by("-signs_from").first())
        if due_row is None:
            return active or _create_active_key()
        if active is not None:
            ClientSigningKey.objects.filter(pk=active.pk).update(is_active=False, retired_at=now)
        ClientSigningKey.objects.filter(pk=due_row.pk).update(is_active=True)
        due_row.is_active = True
        return due_row


def client_keys_published():
    """Keys whose public half belongs in the JWKS: the active one, a rotated one waiting to sign,
    the ones retired within the longest JWKS cache, and retired ones still in use by sessions."""
    in_use = BlueskyIdentity.objects.exclude(client_kid="").values_list("client_kid", flat=True)
    recent = timezone.now() - _jwks_cache()
    return ClientSigningKey.objects.filter(Q(is_active=True) | _PENDING | Q(retired_at__gt=recent)
                                           | Q(kid__in=in_use))


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
def client_key_rotate(*, immediately: bool = False) -> tuple[ClientSigningKey, datetime, int]:
    """Publish a new key that signs from `BLUESKY_JWKS_CACHE_SECONDS` from now (`immediately`: at
    once, for a key that leaked; sign-ins fail at servers holding our old JWKS until it expires).
    A rotated key still waiting is replaced (it never signed). Retired keys no identity uses and
    no server may still expect are forgotten. Returns the new key, when it signs, how many went."""
    now = timezone.now()
    client_key_ensure_active()
    ClientSigningKey.objects.select_for_update().filter(_PENDING).delete()
    signs_from = now if immediately else now + _jwks_cache()
    key = ClientKey.generate()
    new = ClientSigningKey.objects.create(kid=key.kid, private_key_pem=key.to_pem(), public_jwk=key.public_jwk,
                                          is_active=False, signs_from=signs_from)
    if immediately:
        client_key_ensure_active()
    in_use = BlueskyIdentity.objects.exclude(client_kid="").values_list("client_kid", flat=True)
    dropped, _ = (ClientSigningKey.objects.filter(is_active=False, retired_at__lte=now - _jwks_cache())
                  .exclude(kid__in=in_use).delete())
    client_keyset_forget()
    return new, signs_from, dropped
