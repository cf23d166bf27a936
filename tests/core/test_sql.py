"""core.sql.FixedQuery: a query compiled once gives what the ORM gives, for every value it is run
with, on SQLite (fast tier) and PostgreSQL (whole suite); a stand-in it cannot place is not reused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from core.sql import FixedQuery
from elonara.models import RSVP, Event
from members.models import Member
from pages import home

pytestmark = pytest.mark.django_db


def _answers(member_id: int, now: datetime):
    return (Event.objects.filter(ends_at__gte=now)
            .annotate(answered=Exists(RSVP.objects.filter(event=OuterRef("pk"), member_id=member_id)))
            .order_by("starts_at").values_list("title", "starts_at", "answered"))


def test_rows_are_the_orms_for_every_value_and_the_sql_is_built_once():
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    guest = Member.objects.create_user(username="guest", password="pw-long-enough-123")
    now = timezone.now()
    for i in range(3):
        event = Event.objects.create(host=host, title=f"E{i}", starts_at=now + timedelta(days=i),
                                     ends_at=now + timedelta(days=i, hours=2), venue="Hall")
        if i != 1:
            RSVP.objects.create(event=event, member=guest, status="going")
    fixed = FixedQuery(_answers, member_id=-7_130_001, now=datetime(1901, 2, 3, 4, 5, 6, 789, tzinfo=UTC))
    assert fixed.compiled()
    for member_id, when in ((guest.pk, now), (host.pk, now), (guest.pk, now + timedelta(days=1, hours=3))):
        expected = list(_answers(member_id, when))
        with CaptureQueriesContext(connection) as queries:
            got = fixed.all(member_id=member_id, now=when)
        assert got == expected and len(queries) == 1
        assert all(isinstance(starts, datetime) and starts.tzinfo is not None and isinstance(answered, bool)
                   for _title, starts, answered in got)
    assert [title for title, _s, answered in fixed.all(member_id=guest.pk, now=now) if answered] == ["E0", "E2"]


def test_a_constant_equal_to_a_stand_in_stays_a_constant():
    # "going" stands for the status, and the query also holds "going" itself as a constant.
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    event = Event.objects.create(host=host, title="E", starts_at=timezone.now(),
                                 ends_at=timezone.now() + timedelta(hours=1), venue="Hall")
    RSVP.objects.create(event=event, member=host, status="maybe")
    fixed = FixedQuery(lambda status: RSVP.objects.filter(Q(status=status) | Q(status="going")).values_list("status"),
                       status="going")
    assert fixed.compiled()
    assert fixed.all(status="maybe") == [("maybe",)] and fixed.all(status="declined") == []


def test_a_stand_in_written_into_the_sql_is_not_reused():
    # A slice's bounds are written into the SQL, not passed as parameters.
    fixed = FixedQuery(lambda limit: RSVP.objects.order_by("pk").values_list("pk")[:limit], limit=7)
    assert not fixed.compiled()
    assert fixed.all(limit=3) == []


def test_instances_are_the_orms_with_select_related_and_annotations():
    from django.db.models import Count

    host = Member.objects.create_user(username="host", password="pw-long-enough-123", display_name="Hostess")
    now = timezone.now()
    event = Event.objects.create(host=host, title="E", starts_at=now, ends_at=now + timedelta(hours=1), venue="Hall")
    RSVP.objects.create(event=event, member=host, status="going")

    def build(host_id: int):
        return (Event.objects.filter(host_id=host_id).select_related("host").only("title", "host__display_name")
                .annotate(answers=Count("rsvps")))

    fixed = FixedQuery(build, host_id=-7_130_001)
    assert fixed.compiled()
    [got] = fixed.all(host_id=host.pk)
    [expected] = list(build(host.pk))
    assert (got.pk, got.title, got.answers) == (expected.pk, expected.title, expected.answers) == (event.pk, "E", 1)
    with CaptureQueriesContext(connection) as queries:
        assert got.host.display_name == "Hostess"  # loaded with it, no query more
    assert len(queries) == 0 and fixed.all(host_id=host.pk + 1000) == []


def test_the_pages_queries_are_compiled():
    # Each falls back to the ORM silently if a stand-in cannot be placed: these must not.
    from bluesky import selectors as bluesky_selectors
    from bluesky import services as bluesky_services
    from bluesky import sessions
    from elonara import selectors as event_selectors
    from elonara import services as event_services
    from invitations import selectors as invitation_selectors
    from members import api_tokens
    from notifications import services as mail_services
    from pages import member_feed

    for fixed in (home._PLANS, home._COMMUNITIES, home._NETWORK_PLANS, event_selectors._COMMUNITIES_OF,
                  event_selectors._FEED_OF, mail_services._SETTINGS_OF, bluesky_services._IDENTITY_SHOWN,
                  bluesky_selectors._APP_PASSWORD_SHOWN, event_services._FEED_BY_TOKEN, member_feed._MEMBER,
                  member_feed._MEMBER_AND_FEED, member_feed._EVENTS,
                  sessions._CONNECTED_IDENTITY, sessions._OWN_APP_PASSWORD, api_tokens._LIVE_TOKENS_OF,
                  invitation_selectors._HOME_INVITATIONS):
        assert fixed.compiled()
