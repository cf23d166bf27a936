"""Community roles: organizers create the community's events, add and remove organizers, remove
a member and block them from rejoining; everyone sees who organizes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from elonara import selectors, services
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import CommunityMembership
from members.models import Member

pytestmark = pytest.mark.django_db


def make_member(username: str) -> Member:
    return Member.objects.create_user(username=username, password="pw-long-enough-123")


def _event(host: Member, community):
    start = timezone.now() + timedelta(days=2)
    return services.event_create(host=host, title="Meetup", starts_at=start, ends_at=start + timedelta(hours=1),
                                 venue="Hall", community=community)


@pytest.fixture
def club():
    ann, bob, cid = make_member("ann"), make_member("bob"), make_member("cid")
    community = services.community_create(creator=ann, name="Go club")
    services.community_join(community=community, member=bob)
    services.community_join(community=community, member=cid)
    return community, ann, bob, cid


def test_only_organizers_create_the_communitys_events_and_add_organizers(club):
    community, ann, bob, cid = club
    assert _event(ann, community).community == community
    with pytest.raises(NotAllowedError):
        _event(bob, community)
    with pytest.raises(NotAllowedError):
        services.community_organizer_set(community=community, actor=bob, member=cid, organizer=True)
    services.community_organizer_set(community=community, actor=ann, member=bob, organizer=True)
    assert _event(bob, community).community == community
    # The new organizer may demote the first; the last one cannot be demoted.
    services.community_organizer_set(community=community, actor=bob, member=ann, organizer=False)
    with pytest.raises(NotAllowedError):
        services.community_organizer_set(community=community, actor=bob, member=bob, organizer=False)
    with pytest.raises(InvalidInputError):
        services.community_organizer_set(community=community, actor=bob, member=make_member("out"), organizer=True)
    assert list(selectors.community_list_organized_by(member=bob)) == [community]
    assert list(selectors.community_list_organized_by(member=ann)) == []


def test_a_removed_member_is_blocked_from_rejoining_until_unblocked(club):
    community, ann, bob, cid = club
    with pytest.raises(NotAllowedError):
        services.community_member_remove(community=community, actor=bob, member=cid)
    with pytest.raises(NotAllowedError):
        services.community_member_remove(community=community, actor=ann, member=ann)  # organizers are not removed
    services.community_member_remove(community=community, actor=ann, member=cid)
    assert not CommunityMembership.objects.filter(community=community, member=cid).exists()
    with pytest.raises(NotAllowedError):
        services.community_join(community=community, member=cid)
    services.community_unblock(community=community, actor=ann, member=cid)
    services.community_join(community=community, member=cid)
    assert selectors.community_is_member(community=community, member=cid)


def test_pages_show_organizers_and_let_them_manage_members(client, club):
    community, ann, bob, cid = club
    ann.display_name = "Ann Organizer"
    ann.save()
    page = client.get(community.get_absolute_url()).content.decode()
    assert 'id="organizers"' in page and "Ann Organizer" in page
    client.force_login(bob)
    page = client.get(community.get_absolute_url()).content.decode()
    assert "New event here" not in page
    assert client.get(reverse("community-members", args=[community.slug])).status_code == 403
    form = client.get(reverse("event-create")).context["form"]
    assert list(form.fields["community"].queryset) == []  # not an organizer: no community offered

    client.force_login(ann)
    url = reverse("community-members", args=[community.slug])
    client.post(url, {"member": "cid", "action": "remove"})
    client.post(url, {"member": "bob", "action": "organizer_add"})
    listing = client.get(url).content.decode()
    assert "cid" in listing[listing.index('id="blocked-list"'):]
    client.force_login(cid)
    response = client.post(reverse("community-join", args=[community.slug]), follow=True)
    assert "you cannot join it again" in response.content.decode()
    client.force_login(bob)
    assert "New event here" in client.get(community.get_absolute_url()).content.decode()
