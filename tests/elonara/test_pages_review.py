"""What the page review (issue 36) fixed, as a reader sees it: zone names people say, folded
advanced options, the repeated-hour question under its time, the organizer's tools, the login page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from elonara import services
from elonara.models import zone_label
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


@pytest.mark.parametrize(("zone", "at", "said"), [
    ("America/Argentina/Buenos_Aires", datetime(2026, 12, 1, tzinfo=UTC), "Buenos Aires time (UTC\u22123)"),
    ("Asia/Kolkata", datetime(2026, 12, 1, tzinfo=UTC), "Kolkata time (UTC+5:30)"),
    ("Europe/Berlin", datetime(2026, 12, 1, tzinfo=UTC), "Berlin time (UTC+1)"),
    ("Europe/Berlin", datetime(2026, 7, 1, tzinfo=UTC), "Berlin time (UTC+2)"),  # the offset of that day
    ("UTC", datetime(2026, 7, 1, tzinfo=UTC), "UTC"),
    ("Etc/GMT+3", datetime(2026, 7, 1, tzinfo=UTC), "UTC\u22123"),
])
def test_zones_are_named_as_people_say_them(zone, at, said):
    assert zone_label(zone, at) == said


def test_event_pages_and_cards_name_the_zone_not_its_id(client, ann):
    start = (timezone.now() + timedelta(days=3)).replace(hour=18, minute=0, second=0, microsecond=0)
    event = services.event_create(host=ann, title="Tango", starts_at=start, ends_at=start + timedelta(hours=2),
                                  time_zone="America/Argentina/Buenos_Aires", venue="Milonga")
    for page in (client.get(event.get_absolute_url()), client.get("/")):
        text = page.content.decode()
        assert "Buenos Aires time (UTC\u22123)" in text
        assert "America/Argentina" not in re.sub(r'data-zone="[^"]*"', "", text)


def test_new_event_form_folds_advanced_options_and_asks_the_repeated_hour_under_its_time(client, ann):
    client.force_login(ann)
    page = client.get(reverse("event-create")).content.decode()
    folded = page.split('<details class="disclosure" id="more-options">', 1)
    assert len(folded) == 2  # closed: no "open"
    assert 'name="capacity"' in folded[1] and 'name="repeat_rule"' in folded[1]
    assert 'name="capacity"' not in folded[0] and 'name="title"' in folded[0]

    asked = client.post(reverse("event-create"), {
        "title": "Night walk", "starts_at": "2031-10-26T02:30", "ends_at": "2031-10-26T05:00",
        "time_zone": "Europe/Berlin", "venue": "Bridge", "mode": "", "description": "", "capacity": "12"})
    text = asked.content.decode()
    # Right after "Starts" (before "Ends"), and not already marked wrong.
    assert text.index('name="starts_at"') < text.index('name="starts_at_which"') < text.index('name="ends_at"')
    which = re.search(r'<select name="starts_at_which"[^>]*>', text).group(0)
    assert 'aria-invalid="true"' not in which
    assert "This field is required" not in text
    # A set advanced option keeps its part open.
    assert '<details class="disclosure" id="more-options" open>' in text


def test_login_and_signup_do_not_focus_the_password_form(client):
    for url in (reverse("members:login"), reverse("members:signup")):
        page = client.get(url).content.decode()
        assert "Continue with Bluesky" in page and "autofocus" not in page


def test_the_only_organizer_is_not_offered_leave_and_the_page_says_so_once(client, ann):
    community = services.community_create(creator=ann, name="Choir", description="")
    client.force_login(ann)
    page = client.get(community.get_absolute_url()).content.decode()
    assert 'id="organizer-tools"' in page and 'id="sole-organizer"' in page
    assert reverse("community-leave", args=[community.slug]) not in page
    assert page.count("You organize this community") == 1
    bob = Member.objects.create_user(username="bob", password="pw-long-enough-123", display_name="Bob")
    services.community_join(community=community, member=bob)
    services.community_organizer_set(community=community, actor=ann, member=bob, organizer=True)
    page = client.get(community.get_absolute_url()).content.decode()
    assert reverse("community-leave", args=[community.slug]) in page and 'id="sole-organizer"' not in page
