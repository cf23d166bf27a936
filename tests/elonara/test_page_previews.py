"""Link cards: the facts elonara.cards gives, and the Open Graph / Twitter tags pages carry."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from elonara import cards, services
from elonara.models import Event
from invitations.models import Invitation, InvitationBatch
from members.models import Member
from tests.elonara.conftest import image_bytes, upload

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


def _meta(page: str) -> dict[str, str]:
    """property/name -> content of every <meta> tag, plus "canonical"."""
    found = {}
    for _attr, key, content in re.findall(r'<meta (property|name)="([^"]+)" content="([^"]*)">', page):
        found[key] = html.unescape(content)
    canonical = re.search(r'<link rel="canonical" href="([^"]+)">', page)
    if canonical:
        found["canonical"] = html.unescape(canonical.group(1))
    return found


def _ride(host, **extra) -> Event:
    return services.event_create(
        host=host, title="Lakeside ride", starts_at=datetime(2031, 6, 1, 9, 30, tzinfo=BERLIN),
        ends_at=datetime(2031, 6, 1, 12, 0, tzinfo=BERLIN), time_zone="Europe/Berlin", venue="Boathouse", **extra,
    )


def test_event_card_facts_include_the_image_bytes(ann, media_root):
    event = _ride(ann, image=upload(image_bytes("PNG", size=(1600, 840))), image_alt="Bikes by a lake")
    card = cards.link_card_for(event)
    assert card.title == "Lakeside ride"
    assert card.description == "Sun 1 Jun 2031, 09:30–12:00, Berlin time (UTC+2) · Boathouse"
    assert card.url == f"http://127.0.0.1:8000/events/{event.pk}/"
    assert card.image.mime_type == "image/jpeg"
    assert card.image.data == Path(media_root, event.image.name).read_bytes()
    assert card.image.data[:3] == b"\xff\xd8\xff" and len(card.image.data) <= 1_000_000
    assert (card.image.width, card.image.height) == (1200, 630)
    assert card.image.alt == "Bikes by a lake"
    assert card.image.url == f"http://127.0.0.1:8000/media/{event.image.name}"
    assert cards.link_card_for(event, with_image_bytes=False).image.data is None


def test_card_descriptions_for_other_shapes(ann):
    overnight = services.event_create(
        host=ann, title="Hack night", starts_at=datetime(2031, 1, 10, 22, 0, tzinfo=ZoneInfo("UTC")),
        ends_at=datetime(2031, 1, 11, 2, 0, tzinfo=ZoneInfo("UTC")), online_url="https://meet.example/x",
    )
    card = cards.link_card_for(overnight)
    assert card.description == "Fri 10 Jan 2031, 22:00 – Sat 11 Jan 2031, 02:00, UTC · Online"
    assert card.image is None
    services.event_cancel(event=overnight, actor=ann)
    cancelled = cards.link_card_for(overnight)
    assert cancelled.title == "Cancelled: Hack night" and cancelled.description.startswith("Cancelled · ")
    community = services.community_create(creator=ann, name="Go players", description="Weekly games.\nAll levels.")
    card = cards.link_card_for(community)
    assert (card.title, card.description) == ("Go players", "Weekly games. All levels. · 1 member")
    assert card.url == "http://127.0.0.1:8000/communities/go-players/"


def test_event_page_has_open_graph_and_twitter_tags(client, ann):
    event = _ride(ann, image=upload(image_bytes("PNG")), image_alt="Bikes by a lake")
    meta = _meta(client.get(event.get_absolute_url()).content.decode())
    url = f"http://127.0.0.1:8000/events/{event.pk}/"
    assert meta["canonical"] == meta["og:url"] == url
    assert meta["og:title"] == meta["twitter:title"] == "Lakeside ride"
    assert meta["og:description"] == meta["twitter:description"] == meta["description"]
    assert "09:30–12:00, Berlin time (UTC+2) · Boathouse" in meta["og:description"]
    assert meta["og:image"] == meta["twitter:image"] == f"http://127.0.0.1:8000/media/{event.image.name}"
    assert meta["og:image:alt"] == "Bikes by a lake"
    assert meta["twitter:card"] == "summary_large_image"
    assert meta["og:type"] == "website" and meta["og:site_name"] == "Elonara"


def test_absolute_urls_follow_the_public_origin(client, ann, settings):
    settings.ELONARA_PUBLIC_URL = "https://events.example"
    event = _ride(ann)
    meta = _meta(client.get(event.get_absolute_url()).content.decode())
    assert meta["og:url"] == f"https://events.example/events/{event.pk}/"
    assert "og:image" not in meta and meta["twitter:card"] == "summary"


def test_community_page_has_tags(client, ann):
    community = services.community_create(creator=ann, name="Night <Walkers>", description="Walks & talks",
                                          image=upload(image_bytes("JPEG"), name="w.jpg"))
    page = client.get(community.get_absolute_url()).content.decode()
    meta = _meta(page)
    assert meta["og:url"] == "http://127.0.0.1:8000/communities/night-walkers/"
    assert meta["og:title"] == "Night <Walkers>" and "<Walkers>" not in page  # escaped in the HTML
    assert meta["og:description"] == "Walks & talks · 1 member"
    assert meta["og:image"].startswith("http://127.0.0.1:8000/media/covers/community/")


def test_invitation_landing_page_has_the_card_without_the_token(client, ann):
    event = _ride(ann)
    batch = InvitationBatch.objects.create(host=ann, event=event)
    invitation = Invitation.objects.create(
        batch=batch, host=ann, event=event, recipient_did="did:plc:bobbobbobbobbobbobbobbob",
        recipient_handle="bob.test", status=Invitation.Status.SENT,
    )
    page = client.get(f"{event.get_absolute_url()}?invitation={invitation.token}").content.decode()
    meta = _meta(page)
    assert meta["og:url"] == meta["canonical"] == f"http://127.0.0.1:8000/events/{event.pk}/"
    assert meta["og:title"] == "Lakeside ride"
    assert all(invitation.token not in value for value in meta.values())


def test_cover_and_add_to_calendar_on_the_event_page(client, ann):
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=ann, title="Tea", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Kitchen", image=upload(image_bytes("WEBP")), image_alt="Teapot")
    page = client.get(event.get_absolute_url()).content.decode()
    assert f'href="/events/{event.pk}/calendar.ics"' in page and "Add to calendar" in page
    assert f'src="/media/{event.image.name}" alt="Teapot" width="800" height="420"' in page
