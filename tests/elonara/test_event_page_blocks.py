"""Answers of accounts a member blocks on Bluesky are not listed to that member on our own event
pages (members' answers by their connected account or app password, and answers from other apps),
while everyone else, visitors included, sees every answer: the lists are drawn again for that
member's own copy of the page, never in the part every viewer shares. (The blocks themselves are
read from the App View in tests/elonara/test_event_page_blocks_peer.py; here they are the member's
blocks as last read, kept under bluesky.graph's key.)"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from bluesky.graph import HIDDEN_ACCOUNTS_SECONDS
from bluesky.models import MemberAppPassword
from elonara import services
from elonara.models import ExternalRSVP
from members.models import Member
from tests.invitations.conftest import link_identity, random_did

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _field_encryption_key(settings):
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["aW52aXRhdGlvbnMtdGVzdHMtb25seS1rZXktMDEyMzQ="]


def _member(name: str) -> Member:
    return Member.objects.create_user(username=name.lower(), password="pw-long-enough-123", display_name=name)


def _blocks_read(member: Member, hidden: dict[str, str]) -> None:
    # What bluesky.graph.BlueskyGraphService.hidden_accounts keeps after reading getBlocks/getMutes.
    cache.set(f"bsky-hidden-accounts:{member.pk}", hidden, HIDDEN_ACCOUNTS_SECONDS)


def _page(client: Client, event) -> str:
    response = client.get(event.get_absolute_url())
    assert response.status_code == 200
    return response.content.decode()


def _signed_in(member: Member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.fixture
def world():
    ann = _member("Ann")
    link_identity(member=ann, did=random_did(), handle="ann.test")
    start = timezone.now() + timedelta(days=3)
    event = services.event_create(host=ann, title="Board games", starts_at=start, ends_at=start + timedelta(hours=2),
                                  venue="Café")
    carl, dora, bob, erin = _member("Carl"), _member("Dora"), _member("Bob"), _member("Erin")
    carl_did, dora_did = random_did(), random_did()
    link_identity(member=carl, did=carl_did, handle="carl.test")
    MemberAppPassword.objects.create(member=dora, identifier="dora.test", did=dora_did, handle="dora.test",
                                     app_password="abcd-efgh-ijkl-mnop")
    services.rsvp_set(event=event, member=carl, status="going")
    services.rsvp_set(event=event, member=dora, status="maybe")
    services.rsvp_set(event=event, member=erin, status="going")
    troll_did, quiet_did = random_did(), random_did()
    for did, handle in ((troll_did, "troll.test"), (quiet_did, "quiet.test")):
        ExternalRSVP.objects.create(event=event, did=did, handle=handle, status="going",
                                    uri=f"at://{did}/community.lexicon.calendar.rsvp/3kxyz", cid="bafyrei")
    return {"event": event, "ann": ann, "bob": bob, "erin": erin, "carl": carl_did, "dora": dora_did,
            "troll": troll_did, "quiet": quiet_did}


def test_answers_of_accounts_the_member_blocks_are_not_listed_to_them(world):
    event, bob = world["event"], world["bob"]
    # Bob blocks Carl (connected account), Dora (app password) and one outside account; he mutes
    # another: a mute hides events, not people's answers.
    _blocks_read(bob, {world["carl"]: "block", world["dora"]: "block", world["troll"]: "block",
                       world["quiet"]: "mute"})
    page = _page(_signed_in(bob), event)
    assert "Carl" not in page and "Dora" not in page and "@troll.test" not in page
    assert "Erin" in page and "@quiet.test" in page and 'id="host-badge"' in page
    assert "Going (2)" in page and "Maybe (" not in page  # Ann (host) and Erin; nobody left in maybe
    assert "Carl" not in _page(_signed_in(bob), event)  # his kept copy too

    # Nobody else loses them: not a member without blocks, not a visitor, not Bob's own shared part.
    _blocks_read(world["erin"], {})
    for client in (_signed_in(world["erin"]), Client()):
        page = _page(client, event)
        assert "Carl" in page and "Dora" in page and "@troll.test" in page and "Going (3)" in page


def test_the_members_copy_is_kept_no_longer_than_their_blocks(world, rf):
    """A block made in the Bluesky app renews nothing of ours: the page drawn with the member's
    blocks says it stays true only as long as those blocks are kept (the visitors' copy longer)."""
    from django.contrib.auth.models import AnonymousUser

    from elonara.views import _event_detail_render

    event, bob = world["event"], world["bob"]
    _blocks_read(bob, {})

    def seconds_for(user) -> int:
        request = rf.get(event.get_absolute_url())
        request.user = user
        _response, seconds = _event_detail_render(request, event.pk, {})
        return seconds

    assert 0 < seconds_for(bob) <= HIDDEN_ACCOUNTS_SECONDS < seconds_for(AnonymousUser())
