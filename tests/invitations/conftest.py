"""Fixtures for invitations tests: members, an event hosted by one of them, Bluesky identities."""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from bluesky.graph import GraphProfile

_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"


def random_did() -> str:
    return "did:plc:" + "".join(secrets.choice(_TID_ALPHABET) for _ in range(24))


def profile(handle: str, did: str | None = None) -> GraphProfile:
    return GraphProfile(did=did or random_did(), handle=handle, display_name=handle.split(".")[0].title(),
                        avatar_url="")


def make_member(username: str):
    from members.models import Member

    return Member.objects.create_user(username=username, password=secrets.token_urlsafe(12))


def make_event(*, host, title: str = "Board games night 🎲"):
    from elonara import services as elonara_services

    return elonara_services.event_create(
        host=host, title=title, starts_at=timezone.now() + timedelta(days=3),
        ends_at=timezone.now() + timedelta(days=3, hours=3), description="Bring a game.", venue="Café Lumière",
    )


def make_community(*, host, name: str = "Go players"):
    from elonara import services as elonara_services

    return elonara_services.community_create(creator=host, name=name, description="Weekly games.")


def rsvp(*, member, event, status: str = "going"):
    from elonara import services as elonara_services

    return elonara_services.rsvp_set(event=event, member=member, status=status)


def join(*, member, community):
    from elonara import services as elonara_services

    return elonara_services.community_join(community=community, member=member)


def link_identity(*, member, did: str, handle: str):
    """A connected Bluesky identity row, as the Connect flow leaves it (no usable tokens needed here)."""
    from bluesky.models import BlueskyIdentity

    return BlueskyIdentity.objects.create(
        member=member, did=did, handle=handle, pds_url="http://127.0.0.1:9/", issuer="http://127.0.0.1:9/",
        scope="atproto", access_token="unused", dpop_private_jwk="{}", connected_at=timezone.now(),
    )


@pytest.fixture(autouse=True)
def _field_encryption_key(settings):
    # Identities hold encrypted columns; the test settings define no key.
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]


@pytest.fixture(autouse=True)
def _cache(settings):
    # The fast tier's default cache is the database cache, whose table the test database lacks;
    # with REDIS_URL set (services tier) the real shared Redis cache is used.
    if settings.CACHES["default"]["BACKEND"].endswith("DatabaseCache"):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                                       "LOCATION": "invitations-tests"}}
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def host(db):
    member = make_member("alice")
    link_identity(member=member, did=random_did(), handle="alice.test")
    return member


@pytest.fixture
def event(host):
    return make_event(host=host)
