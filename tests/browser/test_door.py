"""The door in a real browser (issue 38): the host's check-in page finds a guest by name, checks
them in, says so clearly the second time, refuses a forged code from the scanner's endpoint, and
shows an error (never "checked in") when the connection is lost; the ticket, check-in and people
(figures) pages fit 360/390/768/1280 px and pass axe, light and dark."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import zxingcpp
from django.utils import timezone
from PIL import Image

from elonara import checkin, services
from invitations import services as invitation_services
from invitations.models import Invitation
from tests.browser.artifacts import screenshot_dir
from tests.browser.test_pages import CSP_COLLECTOR, _axe, _axe_source, _check, _sign_in
from tests.invitations.conftest import profile
from tests.notifications.helpers import member as make_member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (360, 390, 768, 1280)
# The scanner's call, as static/js/checkin.js makes it (its CSRF token from the page).
TAKE = """async ([url, code]) => {
    const token = document.querySelector('#scan-form input[name=csrfmiddlewaretoken]').value;
    const r = await fetch(url, {method: 'POST', body: new URLSearchParams({code}), headers: {'X-CSRFToken': token}});
    return [r.status, await r.json()];
}"""


@pytest.fixture
def door():
    host, ana, ben = make_member("host"), make_member("ana"), make_member("ben")
    ana.display_name = "Ana Ferreira"
    ana.save()
    start = timezone.now() + timedelta(hours=2)
    party = services.event_create(host=host, title="Monthly meetup", starts_at=start,
                                  ends_at=start + timedelta(hours=3), time_zone="Europe/Lisbon", venue="Room 4")
    services.rsvp_set(event=party, member=ana, status="going")
    services.rsvp_set(event=party, member=ben, status="going")
    return host, ana, ben, party


def test_check_in_by_name_twice_and_a_lost_connection(live_server, launch_browser, door):
    host, ana, ben, party = door
    base = live_server.url.replace("localhost", "127.0.0.1")
    context = launch_browser()
    _sign_in(context, base, host)
    page = context.pages[0] if context.pages else context.new_page()
    page.set_default_timeout(15_000)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{base}/events/{party.pk}/checkin/")
    assert page.locator("#count-in").inner_text() == "0" and page.locator("#count-going").inner_text() == "3"
    page.get_by_label("Name or handle").fill("ana")
    page.get_by_role("button", name="Search").click()
    page.get_by_role("button", name="Check in Ana Ferreira").click()
    page.wait_for_load_state()
    assert "Ana Ferreira is checked in." in page.locator("[role=status] li.message").inner_text()
    assert page.locator("#count-in").inner_text() == "1"
    assert page.get_by_text("In at ").count() == 1

    # The scanner's endpoint, called as the page's script calls it: a second time says when.
    rsvp = party.rsvps.get(member=ana)
    code = checkin.rsvp_ticket_code(rsvp=rsvp)
    answer = page.evaluate(TAKE, [f"/events/{party.pk}/checkin/take/", code])
    assert answer[0] == 200 and answer[1]["already"] is True
    assert answer[1]["message"].startswith("Ana Ferreira is already checked in (at ")
    forged = page.evaluate(TAKE, [f"/events/{party.pk}/checkin/take/", code[:-3] + "AAA"])
    assert forged[0] == 409 and forged[1]["ok"] is False and forged[1]["reason"] == "forged"

    # Ben's ticket as his phone shows it, read back from the screen by zxing-cpp: the door takes
    # the code it holds once, and the second time says he is already in.
    guest = launch_browser()
    _sign_in(guest, base, ben)
    phone = guest.pages[0] if guest.pages else guest.new_page()
    phone.set_viewport_size({"width": 390, "height": 844})
    phone.goto(f"{base}/events/{party.pk}/ticket/")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(phone.locator(".ticket-qr").screenshot())))
    assert [d.text for d in decoded] == [checkin.rsvp_ticket_code(rsvp=party.rsvps.get(member=ben))]
    taken = [page.evaluate(TAKE, [f"/events/{party.pk}/checkin/take/", decoded[0].text]) for _ in range(2)]
    assert taken[0][0] == 200 and taken[0][1]["ok"] and not taken[0][1]["already"]
    assert taken[1][1]["already"] and "Ben is already checked in (at " in taken[1][1]["message"]

    # The counts refresh on their own; offline, the page says so.
    page.wait_for_function("() => document.querySelector('#count-in').textContent === '2'", timeout=12_000)
    context.set_offline(True)
    page.wait_for_selector("#checkin-offline:not([hidden])", timeout=12_000)
    assert "nobody is checked in until this page says so" in page.locator("#checkin-offline").inner_text()
    context.set_offline(False)
    page.wait_for_selector("#checkin-offline[hidden]", state="attached", timeout=12_000)


def test_the_door_pages_fit_every_width_and_pass_axe(live_server, launch_browser, door):
    host, ana, _ben, party = door
    # A name with no place to break: it wraps inside its row on a phone (guest list, check-in list).
    cleo = make_member("cleo")
    cleo.display_name = "Cleo " + "Supercalifragilistic" * 4  # 85 characters: under the column's 100
    cleo.save()
    services.rsvp_set(event=party, member=cleo, status="going")
    # Two batches of invitations, delivered, failed and opened: the people page draws its figures.
    invitation_services.invitations_enqueue(host=host, target=party, message_template="",
                                            profiles=[profile(f"{n}.test") for n in ("dora", "eli", "fin")])
    invitation_services.invitations_enqueue(host=host, target=party, profiles=[profile("gil.test")],
                                            message_template="")
    invited = Invitation.objects.filter(event=party)
    invited.filter(recipient_handle__in=["dora.test", "eli.test", "gil.test"]).update(status=Invitation.Status.SENT)
    invited.filter(recipient_handle="fin.test").update(status=Invitation.Status.FAILED)
    invited.filter(recipient_handle="dora.test").update(opened_at=timezone.now())
    base = live_server.url.replace("localhost", "127.0.0.1")
    axe_source = _axe_source()
    shots = screenshot_dir()
    problems: list[str] = []
    for member, paths in ((host, [f"/events/{party.pk}/checkin/", f"/events/{party.pk}/checkin/?q=zzz",
                                  f"/events/{party.pk}/people/", f"/events/{party.pk}/ticket/"]),
                          (ana, [f"/events/{party.pk}/", f"/events/{party.pk}/ticket/"])):
        context = launch_browser()
        context.add_init_script(CSP_COLLECTOR)
        _sign_in(context, base, member)
        page = context.pages[0] if context.pages else context.new_page()
        page.set_default_timeout(20_000)
        for path in paths:
            page.set_viewport_size({"width": WIDTHS[0], "height": 800})
            response = page.goto(base + path, wait_until="load")
            assert response is not None and response.status == 200, path
            if path.endswith("/people/"):
                assert page.locator("#funnel-chart").count() == 1 and page.locator("#doors-table").count() == 1
            if path.endswith("/") and "checkin" not in path and member == ana and "ticket" not in path:
                page.locator("#my-ticket summary").click()  # the folded ticket, open for the checks
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 800})
                problems.extend(_check(page, f"{member.username} {path} at {width} px", axe_source))
                if width in (390, 1280) and "?" not in path:
                    name = "-".join(part for part in path.split("/") if part and not part.isdigit()) or "event"
                    page.screenshot(path=str(shots / f"door-{member.username}-{name}-{width}.png"), full_page=True)
            page.emulate_media(color_scheme="dark")
            page.set_viewport_size({"width": 390, "height": 844})
            page.wait_for_timeout(250)
            problems.extend(f"{member.username} {path} (dark): {v['id']}" for v in _axe(page, axe_source))
            page.emulate_media(color_scheme="light")
        context.close()
    print(f"\nscreenshots: {shots}")
    assert not problems, "\n".join(problems)
