"""Tickets and check-in at the door (issue 38): signed codes, one check-in per guest whatever the
door (scan or name), refusals for forged codes, other events' codes and strangers, co-hosts let
in, the counts, and a ticket's QR image decoded by an independent reader (zxing-cpp)."""

from __future__ import annotations

import io

import icalendar
import pytest
import zxingcpp
from django.test import Client
from PIL import Image

from elonara import checkin, services, tickets
from elonara.errors import NotAllowedError
from elonara.models import RSVP, Checkin
from members import api_tokens
from tests.core.test_metrics import metrics_on, scrape, value  # noqa: F401 - fixture
from tests.notifications.helpers import drain
from tests.notifications.helpers import event as make_event
from tests.notifications.helpers import member as make_member

pytestmark = pytest.mark.django_db


@pytest.fixture
def door():
    host, ana, ben = make_member("host"), make_member("ana"), make_member("ben")
    party = make_event(host, title="Meetup")
    rsvp = services.rsvp_set(event=party, member=ana, status="going")
    return host, ana, ben, party, rsvp


def signed_in(member) -> Client:
    client = Client()
    client.force_login(member)
    return client


def test_a_code_names_its_answer_and_any_change_to_it_is_refused():
    code = tickets.ticket_code(event_id=7, rsvp_id=42)
    assert tickets.ticket_parse(code=code) == tickets.TicketRef(event_id=7, rsvp_id=42)
    assert tickets.ticket_parse(code=code.lower()) == tickets.TicketRef(event_id=7, rsvp_id=42)
    # Another answer or event with the same signature, a changed signature, junk: nothing.
    assert tickets.ticket_parse(code=code.replace("-42-", "-43-")) is None
    assert tickets.ticket_parse(code=code.replace("ELT1-7-", "ELT1-8-")) is None
    flipped = code[:-1] + ("A" if code[-1] != "A" else "B")
    assert tickets.ticket_parse(code=flipped) is None
    assert tickets.ticket_parse(code="") is None
    assert tickets.ticket_parse(code="https://example.org/") is None


def test_the_signature_depends_on_the_secret_key(settings):
    code = tickets.ticket_code(event_id=7, rsvp_id=42)
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    assert tickets.ticket_parse(code=code) is None


def test_check_in_once_then_twice_says_when(door):
    host, ana, _, party, rsvp = door
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    first = checkin.checkin_take(event=party, actor=host, code=code)
    assert (first.already, first.rsvp.pk, first.name) == (False, rsvp.pk, "Ana")
    second = checkin.checkin_take(event=party, actor=host, code=code)
    assert second.already and second.checked_in_at == first.checked_in_at
    # By name, after the scan: the same single check-in.
    assert checkin.checkin_take(event=party, actor=host, rsvp_id=rsvp.pk).already
    assert Checkin.objects.filter(rsvp=rsvp).count() == 1
    assert checkin.checkin_counts(event=party) == checkin.CheckinCounts(checked_in=1, going=2)


def test_forged_and_other_events_codes_are_refused(door):
    host, ana, _, party, rsvp = door
    other = make_event(host, title="Another night")
    elsewhere = services.rsvp_set(event=other, member=ana, status="going")
    with pytest.raises(checkin.CheckinRefused) as refused:
        checkin.checkin_take(event=party, actor=host, code=checkin.rsvp_ticket_code(rsvp=elsewhere))
    assert refused.value.reason == "other_event" and "another event" in refused.value.message
    # A code made up with this event's and answer's numbers but not our key.
    forged = f"ELT1-{party.pk}-{rsvp.pk}-" + "A" * 20
    with pytest.raises(checkin.CheckinRefused) as refused:
        checkin.checkin_take(event=party, actor=host, code=forged)
    assert refused.value.reason == "forged"
    assert not Checkin.objects.exists()


def test_an_answer_changed_after_the_ticket_is_refused(door):
    host, ana, _, party, rsvp = door
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    services.rsvp_set(event=party, member=ana, status="not_going")
    with pytest.raises(checkin.CheckinRefused) as refused:
        checkin.checkin_take(event=party, actor=host, code=code)
    assert refused.value.reason == "not_going"


def test_a_cohost_checks_in_and_a_stranger_or_guest_cannot(door):
    host, ana, ben, party, rsvp = door
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    for outsider in (ben, ana):
        with pytest.raises(NotAllowedError):
            checkin.checkin_take(event=party, actor=outsider, code=code)
    assert not Checkin.objects.exists()
    services.event_cohost_add(event=party, actor=host, member=ben)
    result = checkin.checkin_take(event=party, actor=ben, code=code)
    assert not result.already and Checkin.objects.get().checked_in_by == ben


def test_the_qr_decodes_to_a_code_the_door_takes_once(door):
    host, ana, _, party, rsvp = door
    page = signed_in(ana).get(f"/events/{party.pk}/ticket/")
    assert page.status_code == 200
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    assert 'role="img"' in page.content.decode() and "<svg" in page.content.decode()
    # Read back by zxing-cpp from the PNG segno writes of the same code.
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(tickets.ticket_qr_png(code=code))))
    assert [d.text for d in decoded] == [code]
    door_client = signed_in(host)
    first = door_client.post(f"/events/{party.pk}/checkin/take/", {"code": decoded[0].text})
    assert first.status_code == 200 and first.json()["ok"] and not first.json()["already"]
    again = door_client.post(f"/events/{party.pk}/checkin/take/", {"code": decoded[0].text}).json()
    assert again["already"] and again["message"].startswith("Ana is already checked in (at ")
    forged = door_client.post(f"/events/{party.pk}/checkin/take/", {"code": code[:-2] + "ZZ"})
    assert forged.status_code == 409 and forged.json() == {
        "ok": False, "reason": "forged", "message": checkin.FORGED}
    counts = door_client.get(f"/events/{party.pk}/checkin/counts/").json()
    assert counts == {"checked_in": 1, "going": 2}


def test_the_svg_on_the_page_is_the_same_code(door):
    _, ana, ben, party, rsvp = door
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    svg = tickets.ticket_qr_svg(code=code)
    # segno's PNG and SVG come from one matrix: same size and modules.
    assert 'width="165"' in svg and svg == tickets.ticket_qr_svg(code=code)
    client = signed_in(ana)
    body = client.get(f"/events/{party.pk}/").content.decode()
    # The event page links the image (drawn only when the folded ticket is opened).
    assert 'id="my-ticket"' in body and f'src="/events/{party.pk}/ticket.svg"' in body
    image = client.get(f"/events/{party.pk}/ticket.svg")
    assert image["Content-Type"].startswith("image/svg+xml") and "private" in image["Cache-Control"]
    assert svg.split("<path", 2)[2] in image.content.decode()
    # Nobody else's: someone not going, a stranger.
    assert signed_in(ben).get(f"/events/{party.pk}/ticket.svg").status_code == 404
    assert Client().get(f"/events/{party.pk}/ticket.svg").status_code == 302
    services.rsvp_set(event=party, member=ana, status="not_going")
    assert client.get(f"/events/{party.pk}/ticket.svg").status_code == 404


def test_no_ticket_for_who_is_not_going_and_pages_for_managers_only(door):
    host, ana, ben, party, _ = door
    assert signed_in(ben).get(f"/events/{party.pk}/ticket/").status_code == 404
    for url in (f"/events/{party.pk}/checkin/", f"/events/{party.pk}/checkin/counts/"):
        assert signed_in(ben).get(url).status_code == 403
        assert signed_in(ana).get(url).status_code == 403
    assert signed_in(ben).post(f"/events/{party.pk}/checkin/take/", {"code": "x"}).status_code == 403


def test_the_check_in_page_searches_and_checks_in_by_name(door):
    host, ana, ben, party, rsvp = door
    services.rsvp_set(event=party, member=ben, status="going")
    client = signed_in(host)
    page = client.get(f"/events/{party.pk}/checkin/", {"q": "an"})
    # The list only (a random CSRF token elsewhere on the page may spell anything).
    found = page.content.decode().split('id="checkin-guests"')[1].split("</ul>")[0]
    assert "Ana" in found and "Ben" not in found
    assert "camera=(self)" in page.headers["Permissions-Policy"]
    done = client.post(f"/events/{party.pk}/checkin/", {"rsvp": rsvp.pk, "q": "an"}, follow=True)
    assert "Ana is checked in." in done.content.decode()
    again = client.post(f"/events/{party.pk}/checkin/", {"rsvp": rsvp.pk}, follow=True).content.decode()
    assert "Ana is already checked in (at" in again
    other = client.post(f"/events/{party.pk}/checkin/", {"code": "ELT1-1-1-" + "B" * 20}, follow=True)
    assert checkin.FORGED in other.content.decode()
    assert RSVP.objects.get(pk=rsvp.pk).checkin is not None


def test_the_going_mail_and_its_calendar_entry_link_the_ticket(mail_server, django_capture_on_commit_callbacks):
    host, maya, sam = make_member("host"), make_member("maya"), make_member("sam")
    party = make_event(host)
    with django_capture_on_commit_callbacks(execute=True):
        services.rsvp_set(event=party, member=maya, status="going")
        services.rsvp_set(event=party, member=sam, status="maybe")
    drain()
    ticket_url = f"/events/{party.pk}/ticket/"
    [going] = mail_server.to("maya@example.org")
    assert ticket_url in going.text() and ticket_url in going.html()
    vevent = icalendar.Calendar.from_ical(going.ics()).walk("VEVENT")[0]
    assert "Your ticket: " in str(vevent["DESCRIPTION"]) and ticket_url in str(vevent["DESCRIPTION"])
    # No code travels in the mail: only the page's address, behind sign-in.
    rsvp = RSVP.objects.get(event=party, member=maya)
    assert checkin.rsvp_ticket_code(rsvp=rsvp) not in going.message.as_string()
    [maybe] = mail_server.to("sam@example.org")
    assert ticket_url not in maybe.message.as_string()


@pytest.mark.usefixtures("metrics_on")
def test_check_ins_are_counted_by_outcome(door, client):
    host, _, _, party, rsvp = door
    names = ("in", "already", "forged")
    before = {name: value(scrape(client), "elonara_checkins_total", outcome=name) for name in names}
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    checkin.checkin_take(event=party, actor=host, code=code)
    checkin.checkin_take(event=party, actor=host, code=code)
    with pytest.raises(checkin.CheckinRefused):
        checkin.checkin_take(event=party, actor=host, code="ELT1-1-1-" + "C" * 20)
    after = scrape(client)
    assert {name: value(after, "elonara_checkins_total", outcome=name) - before[name] for name in names} == {
        "in": 1, "already": 1, "forged": 1}


def _api_post(member, url: str, body: dict):
    secret = api_tokens.api_token_create(member=member, name="door", permissions=["read", "events"]).secret
    access = api_tokens.api_access_token_issue(secret=secret)[0]
    return Client().post(url, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_the_api_checks_in_through_the_same_service(door):
    host, ana, ben, party, rsvp = door
    url = f"/api/v1/events/{party.pk}/checkins/"
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    first = _api_post(host, url, {"code": code})
    assert first.status_code == 200 and first.json()["already"] is False and first.json()["name"] == "Ana"
    again = _api_post(host, url, {"code": code}).json()
    assert again["already"] is True and again["checked_in_at"] == first.json()["checked_in_at"]
    assert (again["checked_in"], again["going"]) == (1, 2)
    forged = _api_post(host, url, {"code": code[:-1] + ("A" if code[-1] != "A" else "B")})
    assert forged.status_code == 409 and forged.json()["error"] == "checkin_refused"
    assert _api_post(ben, url, {"code": code}).status_code == 403
