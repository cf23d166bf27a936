from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from elonara import services
from elonara.models import RSVP, Community, Event
from members.models import Member

pytestmark = pytest.mark.django_db


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")


@pytest.fixture
def bob():
    return Member.objects.create_user(username="bob", password="pw-long-enough-123")


def test_signup_logs_in_and_lands_home(client):
    response = client.post(reverse("members:signup"), {
        "username": "zoe", "email": "zoe@example.org", "display_name": "Zoe",
        "password1": "a-strong-passphrase-42", "password2": "a-strong-passphrase-42",
    })
    assert response.status_code == 302
    home = client.get(reverse("home"))
    assert b"Zoe" in home.content
    assert b"Log out" in home.content


def test_create_community_and_event_then_rsvp(client, ann, bob):
    client.force_login(ann)
    response = client.post(reverse("community-create"), {"name": "Night Walkers", "description": "Walks"})
    community = Community.objects.get(name="Night Walkers")
    assert response.url == community.get_absolute_url()
    response = client.post(reverse("event-create"), {
        "title": "Moon walk", "starts_at": "2031-03-01T21:00", "ends_at": "2031-03-01T23:00",
        "time_zone": "Europe/Paris", "venue": "Old bridge", "community": community.pk,
    })
    event = Event.objects.get(title="Moon walk")
    assert response.url == event.get_absolute_url()
    assert event.starts_at.isoformat() == "2031-03-01T20:00:00+00:00"  # 21:00 Paris is 20:00 UTC
    page = client.get(event.get_absolute_url())
    assert "21:00" in page.content.decode()
    client.force_login(bob)
    client.post(reverse("event-rsvp", args=[event.pk]), {"status": "going"})
    assert RSVP.objects.get(event=event, member=bob).status == "going"
    assert "Going (2)" in client.get(event.get_absolute_url()).content.decode()  # Ann hosts: she is going


def test_event_form_errors_are_shown_and_nothing_saved(client, ann):
    client.force_login(ann)
    response = client.post(reverse("event-create"), {
        "title": "Oops", "starts_at": "2031-03-01T21:00", "ends_at": "2031-03-01T20:00", "time_zone": "UTC",
        "venue": "Here",
    })
    assert response.status_code == 200
    assert "must end after it starts" in response.content.decode()
    assert not Event.objects.exists()


def test_only_host_can_open_the_edit_page(client, ann, bob):
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=ann, title="Tea", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Kitchen")
    client.force_login(bob)
    assert client.get(reverse("event-edit", args=[event.pk])).status_code == 403
    assert client.post(reverse("event-edit", args=[event.pk]), {"title": "Mine"}).status_code == 403
    client.force_login(ann)
    assert client.get(reverse("event-edit", args=[event.pk])).status_code == 200


def test_join_leave_need_post_and_login(client, ann, bob):
    community = services.community_create(creator=ann, name="Chess")
    join_url = reverse("community-join", args=[community.slug])
    assert client.post(join_url).status_code == 302  # to login
    assert not community.memberships.filter(member=bob).exists()
    client.force_login(bob)
    assert client.get(join_url).status_code == 405
    client.post(join_url)
    assert community.memberships.filter(member=bob).exists()
    assert "bob" in client.get(community.get_absolute_url()).content.decode()
    client.post(reverse("community-leave", args=[community.slug]))
    assert not community.memberships.filter(member=bob).exists()


def test_csrf_is_enforced_on_rsvp(ann, bob):
    from django.test import Client

    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=ann, title="Tea", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Kitchen")
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(bob)
    assert strict.post(reverse("event-rsvp", args=[event.pk]), {"status": "going"}).status_code == 403
    assert not RSVP.objects.filter(member=bob).exists()


def test_profile_edit(client, ann):
    client.force_login(ann)
    client.post(reverse("members:profile-edit"), {"display_name": "Ann B.", "email": "ann@example.org", "bio": "Hi"})
    ann.refresh_from_db()
    assert ann.display_name == "Ann B."
    assert "Ann B." in client.get(reverse("members:profile", args=["ann"])).content.decode()


def test_logout_is_post_only(client, ann):
    client.force_login(ann)
    client.post(reverse("members:logout"))
    assert b"Log in" in client.get(reverse("home")).content


def test_admin_lists_every_model(admin_client):
    for name in ["members/member", "elonara/community", "elonara/event", "elonara/rsvp",
                 "elonara/communitymembership"]:
        assert admin_client.get(f"/admin/{name}/").status_code == 200, name


@pytest.mark.django_db
def test_anonymous_home_is_served_whole_from_the_cache_and_follows_changes(django_assert_num_queries,
                                                                            django_capture_on_commit_callbacks):
    from datetime import timedelta

    from django.test import Client
    from django.utils import timezone

    from elonara import services
    from members.models import Member

    host = Member.objects.create_user(username="hostess", password="pw-long-enough-123")
    visitor = Client()
    assert "No upcoming events" in visitor.get("/").content.decode()
    with django_assert_num_queries(0):
        assert "No upcoming events" in visitor.get("/").content.decode()  # the cached page
    start = timezone.now() + timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        services.event_create(host=host, title="Lantern walk", starts_at=start, ends_at=start + timedelta(hours=1),
                              venue="Harbour")
    assert "Lantern walk" in visitor.get("/").content.decode()  # dropped with the event's change
    # A signed-in member (a session cookie) gets a page of their own, never the visitors' copy.
    member_client = Client()
    member_client.force_login(host)
    assert "Log out" in member_client.get("/").content.decode()
