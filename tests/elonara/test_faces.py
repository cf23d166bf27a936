"""Faces on guest lists and who sees them (issue 38): the host's guest-list choice, initials for
members without a Bluesky avatar, and only https avatar addresses kept from the App View."""

from __future__ import annotations

import pytest
from django.test import Client

from bluesky.profiles import _clean_profile
from elonara import services
from elonara.errors import InvalidInputError
from tests.notifications.helpers import event as make_event
from tests.notifications.helpers import member as make_member

pytestmark = pytest.mark.django_db


def _attendees(client: Client, event) -> str:
    return client.get(f"/events/{event.pk}/").content.decode().split('id="attendees"')[1].split("</section>")[0]


def signed_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


@pytest.mark.parametrize(("choice", "visitor", "member", "cohost"), [
    ("public", True, True, True),
    ("members", False, True, True),
    ("hidden", False, False, True),
])
def test_the_host_chooses_who_sees_the_guest_list(choice, visitor, member, cohost):
    host, ana, ben, cleo = make_member("host"), make_member("ana"), make_member("ben"), make_member("cleo")
    party = make_event(host)
    services.event_update(event=party, editor=host, guest_list=choice)
    services.event_cohost_add(event=party, actor=host, member=cleo)
    services.rsvp_set(event=party, member=ana, status="going")
    for client, sees in ((Client(), visitor), (signed_in(ben), member), (signed_in(cleo), cohost),
                         (signed_in(host), True)):
        shown = _attendees(client, party)
        assert ('class="person-name">Ana</span>' in shown) is sees
        # The counts show to everyone.
        assert "Going (2)" in shown if sees else "Going: 2" in shown


def test_a_guest_list_choice_must_be_known():
    host = make_member("host")
    with pytest.raises(InvalidInputError):
        services.event_update(event=make_event(host), editor=host, guest_list="friends")


def test_initials_and_names_are_escaped():
    host = make_member("host")
    party = make_event(host)
    odd = make_member("odd")
    odd.display_name = "<script>alert(1)</script> zoë ünal"
    odd.save()
    services.rsvp_set(event=party, member=odd, status="maybe")
    shown = _attendees(Client(), party)
    assert "<script>" not in shown and "&lt;script&gt;alert(1)&lt;/script&gt; zoë ünal" in shown
    assert 'aria-hidden="true">ZÜ</span>' in shown  # words that start with a letter or digit


def test_only_https_avatar_addresses_are_kept():
    good = {"did": "did:plc:abc", "displayName": "  Dana \n Lee ", "avatar": "https://cdn.example/img/a.jpg"}
    assert _clean_profile(good) == ("did:plc:abc", "Dana Lee", "https://cdn.example/img/a.jpg")
    for avatar in ("http://cdn.example/a.jpg", "javascript:alert(1)", "data:image/png;base64,AA",
                   "https://" + "a" * 2000, 42):
        assert _clean_profile({**good, "avatar": avatar})[2] == ""
    assert _clean_profile({"displayName": "no did"}) is None
    assert _clean_profile("junk") is None


def test_changing_the_choice_renews_the_kept_pages():
    host, ana = make_member("host"), make_member("ana")
    party = make_event(host)
    services.rsvp_set(event=party, member=ana, status="going")
    visitor = Client()
    assert 'class="person-name">Ana</span>' in _attendees(visitor, party)  # kept now
    services.event_update(event=party, editor=host, guest_list="hidden")
    shown = _attendees(visitor, party)
    assert "Ana" not in shown and "Going: 2" in shown


def _with_face(member, *, name: str, avatar: str = ""):
    # As bluesky.profiles keeps a profile read from the App View (saved: every page learns of it).
    member.bluesky_display_name, member.bluesky_avatar_url = name, avatar
    member.save(update_fields=["bluesky_display_name", "bluesky_avatar_url"])
    return member


AVATAR = "https://cdn.example/img/avatar/plain/did:plc:ana/abc@jpeg"


def test_faces_on_the_hosts_people_page_and_the_event_page_host_line():
    host = _with_face(make_member("host"), name="Hanna Host", avatar="https://cdn.example/host.jpg")
    ana, ben, cleo = make_member("ana"), make_member("ben"), make_member("cleo")
    _with_face(ana, name="Ana Bluesky", avatar=AVATAR)
    party = make_event(host)
    services.event_cohost_add(event=party, actor=host, member=cleo)
    services.rsvp_set(event=party, member=ana, status="going")
    services.rsvp_set(event=party, member=ben, status="maybe")
    people = signed_in(host).get(f"/events/{party.pk}/people/").content.decode()
    going = people.split('id="going"')[1].split("</ul>")[0]
    assert f'src="{AVATAR}"' in going and 'class="person-name">Ana Bluesky</span>' in going
    assert '<span class="person-handle">@ana</span>' in going
    cohosts = people.split('id="cohosts"')[1].split("</ul>")[0]
    assert 'aria-hidden="true">C</span><span class="person-text"><span class="person-name">Cleo</span>' in cohosts
    facts = Client().get(f"/events/{party.pk}/").content.decode().split("<dt>Host</dt>")[1].split("</dd>")[0]
    assert 'src="https://cdn.example/host.jpg"' in facts and "Hanna Host" in facts
    assert 'aria-hidden="true">C</span><span class="person-name">Cleo</span>' in facts  # the co-host's initials


def test_faces_on_the_community_page_its_members_page_and_a_profile():
    host, ana = make_member("host"), make_member("ana")
    community = services.community_create(creator=host, name="Board gamers")
    services.community_join(community=community, member=ana)
    visitor = Client()
    page = visitor.get(community.get_absolute_url()).content.decode()  # kept now
    assert 'aria-hidden="true">A</span><span class="person-name">Ana</span>' in page
    organizers = page.split('id="organizers"')[1].split("</p>")[0]
    assert 'aria-hidden="true">H</span><span class="person-name">Host</span>' in organizers
    # A new face read from the App View renews the kept community page (pages.table: the Member row).
    _with_face(ana, name="Ana Bluesky", avatar=AVATAR)
    _with_face(host, name="Hanna Host", avatar="https://cdn.example/host.jpg")
    page = visitor.get(community.get_absolute_url()).content.decode()
    members = page.split('id="member-list"')[1].split("</ul>")[0]
    assert f'src="{AVATAR}"' in members and "Ana Bluesky" in members
    assert 'src="https://cdn.example/host.jpg"' in page.split('id="organizers"')[1].split("</p>")[0]
    manage = signed_in(host).get(f"/communities/{community.slug}/members/").content.decode()
    assert f'src="{AVATAR}"' in manage and '<span class="person-handle">@ana</span>' in manage
    own = signed_in(ana).get("/members/ana/").content.decode()
    assert f'src="{AVATAR}"' in own and "<h1>Ana Bluesky</h1>" in own


@pytest.mark.parametrize("choice", ["members", "hidden"])
def test_the_api_shows_no_guest_to_whom_the_page_would_not(choice):
    from tests.elonara.test_questions import api_client

    host, ana, ben = make_member("host"), make_member("ana"), make_member("ben")
    party = make_event(host)
    services.event_update(event=party, editor=host, guest_list=choice, capacity=1, requires_approval=True)
    services.rsvp_set(event=party, member=ana, status="going")
    services.rsvp_set(event=party, member=ben, status="going")
    guest = api_client(ben)
    for path in ("", "waitlist/", "requests/", "answers/", "cohosts/"):
        response = Client().get(f"/api/v1/events/{party.pk}/{path}", **guest)
        assert response.status_code in (200, 403), path
        assert "ana" not in response.content.decode().lower(), path
    # The host still reads them.
    requests = Client().get(f"/api/v1/events/{party.pk}/requests/", **api_client(host)).json()
    assert {r["member"]["username"] for r in requests["requests"]} == {"ana", "ben"}
