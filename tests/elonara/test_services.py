from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from elonara import selectors, services
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, CommunityMembership, Event
from members.models import Member

pytestmark = pytest.mark.django_db


def make_member(username: str) -> Member:
    return Member.objects.create_user(username=username, password="pw-long-enough-123")


def make_event(host: Member, **overrides) -> Event:
    start = timezone.now() + timedelta(days=3)
    values = {"title": "Picnic", "starts_at": start, "ends_at": start + timedelta(hours=2), "venue": "The park"}
    values.update(overrides)
    return services.event_create(host=host, **values)


def test_creator_hosts_the_community_and_slug_is_unique():
    ann = make_member("ann")
    first = services.community_create(creator=ann, name="Book Club")
    second = services.community_create(creator=ann, name="Book Club")
    assert first.slug == "book-club"
    assert second.slug == "book-club-2"
    assert selectors.community_is_host(community=first, member=ann)


def test_explicit_slug_clash_is_refused():
    ann = make_member("ann")
    services.community_create(creator=ann, name="Runners", slug="run")
    with pytest.raises(InvalidInputError) as excinfo:
        services.community_create(creator=ann, name="Other", slug="run")
    assert excinfo.value.field == "slug"


def test_join_and_leave():
    ann, bob = make_member("ann"), make_member("bob")
    community = services.community_create(creator=ann, name="Chess")
    services.community_join(community=community, member=bob)
    services.community_join(community=community, member=bob)  # idempotent
    assert community.memberships.filter(member=bob).count() == 1
    services.community_leave(community=community, member=bob)
    assert not selectors.community_is_member(community=community, member=bob)


def test_last_host_cannot_leave():
    ann = make_member("ann")
    community = services.community_create(creator=ann, name="Chess")
    with pytest.raises(NotAllowedError):
        services.community_leave(community=community, member=ann)
    assert community.memberships.filter(member=ann, role=CommunityMembership.Role.HOST).exists()


def test_event_must_end_after_start_and_have_a_place_or_link():
    ann = make_member("ann")
    start = timezone.now() + timedelta(days=1)
    with pytest.raises(InvalidInputError) as excinfo:
        make_event(ann, starts_at=start, ends_at=start)
    assert excinfo.value.field == "ends_at"
    with pytest.raises(InvalidInputError) as excinfo:
        make_event(ann, venue="", online_url="")
    assert excinfo.value.field == "venue"
    assert Event.objects.count() == 0


def test_event_in_a_community_requires_membership():
    ann, bob = make_member("ann"), make_member("bob")
    community = services.community_create(creator=ann, name="Chess")
    with pytest.raises(NotAllowedError):
        make_event(bob, community=community)
    event = make_event(ann, community=community)
    assert event.community == community


def test_only_the_host_edits():
    ann, bob = make_member("ann"), make_member("bob")
    event = make_event(ann)
    with pytest.raises(NotAllowedError):
        services.event_update(event=event, editor=bob, title="Hijacked")
    services.event_update(event=event, editor=ann, title="Big picnic")
    event.refresh_from_db()
    assert event.title == "Big picnic"


def test_time_zone_is_kept_and_times_are_absolute():
    ann = make_member("ann")
    tokyo = ZoneInfo("Asia/Tokyo")
    start = datetime(2030, 5, 1, 19, 0, tzinfo=tokyo)
    event = make_event(ann, starts_at=start, ends_at=start + timedelta(hours=3), time_zone="Asia/Tokyo")
    event.refresh_from_db()
    assert event.starts_at == start  # the same instant, stored in UTC
    assert event.starts_at.astimezone(tokyo).hour == 19
    with pytest.raises(InvalidInputError):
        services.event_update(event=event, editor=ann, time_zone="Mars/Olympus")


def test_rsvp_transitions_and_counts(django_capture_on_commit_callbacks, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    ann, bob = make_member("ann"), make_member("bob")
    event = make_event(ann)
    with django_capture_on_commit_callbacks(execute=True):
        services.rsvp_set(event=event, member=bob, status="maybe")
    event.refresh_from_db()
    assert (event.going_count, event.maybe_count) == (1, 1)  # the host is going
    with django_capture_on_commit_callbacks(execute=True):
        services.rsvp_set(event=event, member=bob, status="going")
    event.refresh_from_db()
    assert (event.going_count, event.maybe_count) == (2, 0)
    assert RSVP.objects.filter(event=event, member=bob).count() == 1
    with pytest.raises(InvalidInputError):
        services.rsvp_set(event=event, member=bob, status="perhaps")


def test_upcoming_lists_future_events_soonest_first():
    ann = make_member("ann")
    later = make_event(ann, title="Later", starts_at=timezone.now() + timedelta(days=9),
                       ends_at=timezone.now() + timedelta(days=9, hours=1))
    sooner = make_event(ann, title="Sooner")
    Event.objects.create(host=ann, title="Past", starts_at=timezone.now() - timedelta(days=2),
                         ends_at=timezone.now() - timedelta(days=1), venue="x")
    assert list(selectors.event_list_upcoming()) == [sooner, later]
