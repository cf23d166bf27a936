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
