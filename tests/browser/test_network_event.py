"""In a real browser, against the official PDS: a member pastes the at:// link of an event another
app wrote, sees its page, and answers Going; the answer becomes an RSVP record in their repository."""

from datetime import timedelta

import pytest
from django.utils import timezone

from elonara import atrecords
from members.models import Member
from network import services
from network.models import NetworkRSVP
from tests.elonara.records_helpers import OtherApp, connect_app_password, get_record

pytestmark = [pytest.mark.browser, pytest.mark.peer, pytest.mark.django_db(transaction=True)]

EVENT = atrecords.EVENT_NSID


def test_paste_page_going(live_server, page, peer, accounts, peer_settings):
    peer_settings.INVITATIONS_PACING_ENABLED = False
    peer_settings.BLUESKY_APPVIEW_URL = peer.appview_url
    base = live_server.url
    maya = Member.objects.create_user(username="maya", password="correct-horse-battery-9", display_name="Maya")
    connect_app_password(maya, accounts["alice"])
    start = (timezone.now() + timedelta(days=5)).replace(hour=19, minute=30, second=0, microsecond=0)
    other = OtherApp(peer, accounts["bob"])
    try:
        created = other.create(EVENT, {
            "$type": EVENT, "name": "Rooftop go", "createdAt": atrecords.at_datetime(timezone.now()),
            "startsAt": start.isoformat(), "endsAt": (start + timedelta(hours=2)).isoformat(),
            "description": "<b>Boards</b> provided", "mode": f"{EVENT}#inperson",
            "locations": [{"$type": "community.lexicon.location.address", "country": "PT", "name": "Rooftop"}]})
    finally:
        other.close()

    page.goto(f"{base}/members/login/")
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password").fill("correct-horse-battery-9")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/upcoming/")
    page.get_by_label("Event link").fill(created["uri"])
    page.get_by_role("button", name="Show it").click()
    page.wait_for_url(f"**/network/{accounts['bob'].did}/**")
    assert page.get_by_role("heading", name="Rooftop go").is_visible()
    assert page.locator("#other-app").inner_text() == "made with another app"
    assert "<b>Boards</b> provided" in page.locator("#description").inner_text()  # plain text, not HTML
    assert "19:30" in page.locator("#when").inner_text()
    assert page.locator("[data-local-holder]").is_visible()  # the visitor's own time, filled in the browser

    page.get_by_role("button", name="Going", exact=True).click()
    page.wait_for_selector("#my-rsvp")
    assert "Going" in page.locator("#my-rsvp").inner_text()
    rsvp = NetworkRSVP.objects.get(member=maya)
    assert services.network_rsvp_publish(rsvp_id=rsvp.pk).state == "published"  # what the worker runs
    page.reload()
    assert "published on Bluesky" in page.locator("#my-rsvp").inner_text()
    page.screenshot(path="/tmp/elonara-network-event.png", full_page=True)
    rsvp.refresh_from_db()
    value = get_record(peer, rsvp.at_uri).raise_for_status().json()["value"]
    assert value["subject"] == {"uri": created["uri"], "cid": created["cid"]}
    assert value["status"] == "community.lexicon.calendar.rsvp#going"
    # In "Your plans" on the home page.
    page.goto(f"{base}/")
    assert "Rooftop go" in page.locator("#my-rsvps").inner_text()
