"""Every row of the pages' table (pages.table), written through every path (save, update(),
delete, bulk_create()), renews every kept page it shows on: the versions those pages are kept
under (core.page_cache) change. Parametrized from the table: a new row is tested here at once
(and fails until `world` below makes one of its model)."""

from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.cache import cache
from django.db import models
from django.db.models import F
from django.utils import timezone

from bluesky.models import MemberAppPassword, RelayAccount, WritesModeSetting
from core.page_cache import page_version_key, versions_current
from elonara import series, services
from elonara.models import RSVP, Checkin, EventCohost, EventConversation, EventQuestion, ExternalRSVP, HostMessage
from invitations.models import Invitation, InvitationBatch
from members.api_tokens import api_token_create
from network import services as network_services
from notifications.models import MailSettings
from pages.table import TABLE, Shown
from tests.invitations.conftest import link_identity, random_did

pytestmark = pytest.mark.django_db

PATHS = ("save", "update", "delete", "bulk_create")


@pytest.fixture
def world(django_user_model, settings):
    """One row of every model the table names, linked as on a real site."""
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"  # profile reads (queued on commit) go nowhere
    settings.CELERY_TASK_ALWAYS_EAGER = False
    host = django_user_model.objects.create_user(username="host", password="pw-long-enough-123")
    guest = django_user_model.objects.create_user(username="guest", password="pw-long-enough-123")
    community = services.community_create(creator=host, name="Board gamers")
    membership = services.community_join(community=community, member=guest)
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=host, title="Game night", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Hall", community=community)
    occurrence = series.series_create(host=host, kind="weekly", count=2, starts_at=start,
                                      ends_at=start + timedelta(hours=1), title="Weekly", venue="Hall")
    services.rsvp_set(event=event, member=guest, status="going")
    guest_did = random_did()
    identity = link_identity(member=guest, did=guest_did, handle="guest.test")
    network_event = network_services.network_event_store(
        did=random_did(), rkey="3l123456789aa2", cid="bafyrei" + "a" * 52, seq=1,
        record={"$type": "community.lexicon.calendar.event", "name": "Elsewhere", "createdAt": "2026-01-01T00:00:00Z",
                "startsAt": (start).isoformat(), "endsAt": (start + timedelta(hours=1)).isoformat()})
    assert network_event is not None
    batch = InvitationBatch.objects.create(host=host, event=event)
    rows: dict[str, models.Model] = {
        "elonara.Event": event, "elonara.Community": community, "elonara.EventSeries": occurrence.series,
        "elonara.RSVP": RSVP.objects.get(event=event, member=guest), "elonara.CommunityMembership": membership,
        "elonara.ExternalRSVP": ExternalRSVP.objects.create(event=event, did=random_did(), status="going",
                                                            uri="at://did:plc:x/c/3l1", cid="bafy"),
        "elonara.EventCohost": EventCohost.objects.create(event=event, member=guest),
        "elonara.EventConversation": EventConversation.objects.create(event=event, post_uri="at://did:plc:x/p/3l2"),
        "elonara.EventQuestion": EventQuestion.objects.create(event=event, kind="short", label="Diet?"),
        "elonara.HostMessage": HostMessage.objects.create(event=event, author=host, body="Room 4", groups=["going"]),
        "elonara.Checkin": Checkin.objects.create(rsvp=RSVP.objects.get(event=event, member=guest), event=event,
                                                  checked_in_by=host, checked_in_at=timezone.now()),
        "elonara.CalendarFeed": services.calendar_feed_issue(member=guest)[0],
        "members.Member": guest,
        "members.ApiToken": api_token_create(member=guest, name="cli", permissions=["read"]).token,
        "bluesky.BlueskyIdentity": identity,
        "bluesky.MemberAppPassword": MemberAppPassword.objects.create(member=host, identifier="host.test"),
        "notifications.MailSettings": MailSettings.objects.create(member=guest),
        "network.NetworkRSVP": network_services.network_rsvp_set(event=network_event, member=guest, status="going"),
        "network.NetworkEvent": network_event,
        "invitations.InvitationBatch": batch,
        "invitations.Invitation": Invitation.objects.create(
            batch=batch, host=host, event=event, recipient_did=guest_did, recipient_handle="guest.test", rkey="3l3"),
        "bluesky.WritesModeSetting": WritesModeSetting.objects.create(),
        "bluesky.RelayAccount": RelayAccount.objects.create(identifier="relay.test"),
    }
    return rows


def _shown_on(row: Shown, instance: models.Model, *, with_pk: bool = True) -> set[tuple[str, int]]:
    """The pages the row shows on, read from the database as it is now (not from the hooks)."""
    pages = {(kind, instance.pk if name == "pk" else getattr(instance, name))
             for kind, names in row.by_field.items() for name in names if with_pk or name != "pk"}
    if row.fan_out is not None:  # a new row (no primary key yet) fans out to the site-wide pages only
        pages |= {(kind, pk) for kind, ids in row.fan_out([instance.pk if with_pk else 0]).items() for pk in ids}
    return {(kind, pk) for kind, pk in pages if pk}


def _versions(pages: set[tuple[str, int]]) -> dict[tuple[str, int], str | None]:
    pages_sorted = sorted(pages)
    versions_current([page_version_key(kind, pk) for kind, pk in pages_sorted])
    found = cache.get_many([page_version_key(kind, pk) for kind, pk in pages_sorted])
    return {page: found.get(page_version_key(*page)) for page in pages_sorted}


def _a_shown_field(model: type[models.Model], row: Shown) -> str:
    quiet = set().union(*[fields for fields, _kinds in row.only]) if row.only else set()
    return next(f.attname for f in model._meta.concrete_fields
                if not f.primary_key and not f.is_relation and f.attname not in quiet)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("row", TABLE, ids=[row.model for row in TABLE])
def test_every_write_path_renews_every_page_the_row_shows_on(world, row, path):
    model = apps.get_model(row.model)
    instance = world.get(row.model)
    assert instance is not None, f"make a {row.model} in this test's world"
    instance = model.objects.get(pk=instance.pk)
    pages = _shown_on(row, instance, with_pk=path != "bulk_create")
    if path == "bulk_create" and not pages:
        pytest.skip("a row made now shows on no page kept before it: its pages are named by its own key")
    assert pages, f"{row.model} shows on no page in this test's world"
    if path == "bulk_create":
        clone = copy.copy(instance)
        key = instance.pk
        instance.delete()
        # Made again by bulk_create (a new key, unless its key is its member's: mail settings).
        clone.pk = key if model._meta.pk.is_relation else None
        before = _versions(pages)
        model.objects.bulk_create([clone])
    else:
        before = _versions(pages)
        if path == "save":
            instance.save()
        elif path == "update":
            name = _a_shown_field(model, row)
            assert model.objects.filter(pk=instance.pk).update(**{name: F(name)}) == 1
        else:
            instance.delete()
    after = _versions(pages)
    stale = sorted(page for page in pages if after[page] == before[page])
    assert stale == [], f"{row.model} {path}: pages not renewed: {stale}"
