"""Against the official PDS and App View: a block written on the PDS takes the blocked account's
answers (as a member here, and from another app) out of the attendee lists the blocker sees on our
own event page; a visitor still sees them. Every account is made by this test (the shared peer's
seeded accounts are in use by others)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from bluesky.graph import BlueskyGraphService
from elonara import services
from elonara.models import ExternalRSVP
from tests.elonara.records_helpers import connect_app_password, wait_for
from tests.network.test_respect_peer import _fresh

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def test_a_block_written_on_the_pds_hides_the_blocked_accounts_answers(peer_settings, peer, django_user_model):
    peer_settings.CELERY_TASK_ALWAYS_EAGER = False  # nothing here needs a worker
    viewer, blocked, outsider = (_fresh(peer.pds_url) for _ in range(3))
    for account in (blocked, outsider):
        viewer.create("app.bsky.graph.block", {"$type": "app.bsky.graph.block", "subject": account.did,
                                               "createdAt": timezone.now().isoformat()})
    host = django_user_model.objects.create_user(username="host", password="pw-123456", display_name="Hana")
    start = timezone.now() + timedelta(days=3)
    event = services.event_create(host=host, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Café")
    member = django_user_model.objects.create_user(username="viewer", password="pw-123456", display_name="Vera")
    connect_app_password(member, viewer)
    troll = django_user_model.objects.create_user(username="troll", password="pw-123456", display_name="Trollface")
    connect_app_password(troll, blocked)
    services.rsvp_set(event=event, member=troll, status="going")
    ExternalRSVP.objects.create(event=event, did=outsider.did, handle=outsider.handle, status="going",
                                uri=f"at://{outsider.did}/community.lexicon.calendar.rsvp/3kxyzxyzxyz22", cid="bafyrei")
    wait_for(lambda: BlueskyGraphService().hidden_accounts(member=member, fresh=True) == {
        blocked.did: "block", outsider.did: "block"}, what="the blocks")

    client = Client()
    client.force_login(member)
    page = client.get(event.get_absolute_url()).content.decode()
    assert "Hana" in page and "Trollface" not in page and f"@{outsider.handle}" not in page
    visitor = Client().get(event.get_absolute_url()).content.decode()
    assert "Trollface" in visitor and f"@{outsider.handle}" in visitor
