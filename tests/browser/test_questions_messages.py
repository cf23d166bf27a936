"""In a real browser (issue 38): the host adds questions, a guest must answer the required one to
say Going, the host reads the answers on the people page and downloads them as CSV, then writes
to the guests, who read it on the event page. Every page of the flow fits 360/390/768/1280 px and
passes axe (light colours); screenshots at 390 and 1280 px are kept for a reviewer."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from elonara import services
from elonara.models import RSVP, EventQuestion
from members.models import Member
from tests.browser.artifacts import screenshot_dir
from tests.browser.test_pages import _axe_source, _check, _sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (360, 390, 768, 1280)


def _all_widths(page, where: str, axe_source: str, shots, name: str) -> list[str]:
    problems = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800 if width < 768 else 900})
        problems.extend(_check(page, f"{where} at {width} px", axe_source))
        if width in (390, 1280):
            page.screenshot(path=str(shots / f"questions-{name}-{width}.png"), full_page=True)
    return problems


def test_a_guest_answers_a_required_question_and_the_host_downloads_the_answers(live_server, launch_browser):
    base = live_server.url.replace("localhost", "127.0.0.1")
    axe_source = _axe_source()
    shots = screenshot_dir()
    host = Member.objects.create_user(username="maya", password="pw-long-enough-123", display_name="Maya")
    guest = Member.objects.create_user(username="sam", password="pw-long-enough-123", display_name="Sam")
    start = timezone.now() + timedelta(days=5)
    event = services.event_create(host=host, title="Monthly meetup", starts_at=start,
                                  ends_at=start + timedelta(hours=2), venue="Room 4")
    problems: list[str] = []

    hosting = launch_browser()
    _sign_in(hosting, base, host)
    page = hosting.new_page()
    page.goto(f"{base}/events/{event.pk}/")
    page.get_by_role("link", name="Questions").click()
    page.wait_for_url(f"**/events/{event.pk}/questions/")
    page.get_by_label("Kind of answer").select_option("one")
    page.locator("#id_label").fill("Which talk?")
    page.get_by_label("Choices (one and several choices only)").fill("Rust\n=cmd|' /C calc'!A0")
    page.locator("#id_required").check()
    page.get_by_role("button", name="Add question").click()
    page.wait_for_url(f"**/events/{event.pk}/questions/")
    page.get_by_label("Kind of answer").select_option("checkbox")
    page.locator("#id_label").fill("I accept the code of conduct")
    page.locator("#id_required").check()
    page.get_by_role("button", name="Add question").click()
    page.wait_for_url(f"**/events/{event.pk}/questions/")
    assert EventQuestion.objects.filter(event=event).count() == 2
    problems += _all_widths(page, "questions page", axe_source, shots, "page")

    guesting = launch_browser()
    _sign_in(guesting, base, guest)
    answer = guesting.new_page()
    answer.goto(f"{base}/events/{event.pk}/")
    answer.get_by_label("=cmd|' /C calc'!A0").check()
    answer.get_by_role("button", name="Going", exact=True).click()
    # The browser asks for the unticked required checkbox first: nothing is sent.
    answer.wait_for_timeout(300)
    assert not RSVP.objects.filter(event=event, member=guest).exists()
    problems += _all_widths(answer, "event page with questions", axe_source, shots, "event")
    answer.get_by_label("I accept the code of conduct").check()
    answer.get_by_role("button", name="Going", exact=True).click()
    answer.wait_for_load_state()
    answer.locator("#my-rsvp").wait_for()
    rsvp = RSVP.objects.get(event=event, member=guest)
    assert rsvp.status == "going" and len(rsvp.question_answers) == 2

    page.goto(f"{base}/events/{event.pk}/people/")
    assert page.locator("#answers").get_by_text("=cmd|' /C calc'!A0").is_visible()
    problems += _all_widths(page, "people page with answers", axe_source, shots, "people")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download the answers (CSV)").click()
    rows = list(csv.reader(io.StringIO(open(info.value.path(), encoding="utf-8").read())))
    assert rows[0] == ["Name", "Username", "Answer", "Which talk?", "I accept the code of conduct"]
    assert rows[1] == ["Sam", "sam", "Going", "'=cmd|' /C calc'!A0", "Yes"]  # never a formula

    page.goto(f"{base}/events/{event.pk}/")
    page.get_by_role("link", name="Message the guests").click()
    page.wait_for_url(f"**/events/{event.pk}/message/")
    problems += _all_widths(page, "message page", axe_source, shots, "message")
    page.locator("#id_body").fill("We moved to room 4, second floor.")
    page.get_by_role("button", name="Send message").click()
    page.wait_for_url(f"**/events/{event.pk}/message/")
    assert page.locator("#sent-messages").get_by_text("We moved to room 4, second floor.").is_visible()
    problems += _all_widths(page, "message page after sending", axe_source, shots, "message-sent")

    answer.goto(f"{base}/events/{event.pk}/")
    updates = answer.locator("#updates")
    assert updates.get_by_role("heading", name="Updates from the host").is_visible()
    assert updates.get_by_text("We moved to room 4, second floor.").is_visible()
    problems += _all_widths(answer, "event page with updates", axe_source, shots, "event-updates")
    hosting.close()
    guesting.close()
    assert not problems, "\n".join(problems)
