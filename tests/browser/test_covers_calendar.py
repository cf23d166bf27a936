"""In a real browser: a host publishes an event with a cover image, sees it, and adds the event to a
calendar; then makes a private calendar feed on the profile and a calendar app reads it."""

import io

import httpx
import icalendar
import pytest
from PIL import Image

from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_cover_image_and_add_to_calendar(live_server, page, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    base = live_server.url
    Member.objects.create_user(username="maya", password="correct-horse-battery-9", display_name="Maya")
    cover = tmp_path / "lake.png"
    picture = Image.new("RGB", (1600, 900), (20, 110, 190))
    picture.paste(Image.new("RGB", (800, 900), (250, 210, 40)), (0, 0))
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    cover.write_bytes(buffer.getvalue())

    page.goto(f"{base}/members/login/")
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password").fill("correct-horse-battery-9")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")

    page.goto(f"{base}/events/new/")
    page.get_by_label("Title").fill("Lakeside ride")
    page.get_by_label("Starts").fill("2031-03-30T01:30")  # Berlin springs forward at 02:00 that night
    page.get_by_label("Ends").fill("2031-03-30T04:00")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Place").fill("Boathouse")
    page.get_by_label("Cover image").set_input_files(str(cover))
    page.get_by_label("Image alt text").fill("Yellow and blue halves")
    page.get_by_role("button", name="Publish event").click()
    page.wait_for_url("**/events/*/")

    image = page.locator("#cover-image")
    assert image.is_visible()
    assert image.get_attribute("alt") == "Yellow and blue halves"
    page.wait_for_function("() => document.querySelector('#cover-image').complete")
    assert page.evaluate("document.querySelector('#cover-image').naturalWidth") == 1200
    page.screenshot(path="/tmp/elonara-event-cover.png", full_page=True)

    link = page.get_by_role("link", name="Add to calendar")
    assert link.is_visible()
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename.endswith(".ics")
    calendar = icalendar.Calendar.from_ical(open(download.path(), "rb").read())
    (event,) = calendar.walk("VEVENT")
    assert str(event["SUMMARY"]) == "Lakeside ride"
    assert event["DTSTART"].params["TZID"] == "Europe/Berlin"
    assert (event.decoded("DTEND").astimezone().timestamp() - event.decoded("DTSTART").astimezone().timestamp()
            == 1.5 * 3600)  # 01:30 CET to 04:00 CEST

    # The private feed: made on the profile, its address shown once, read without any login.
    page.goto(f"{base}/members/me/")
    page.get_by_role("button", name="Create my calendar feed").click()
    feed_url = page.locator("#feed-url").input_value()
    page.screenshot(path="/tmp/elonara-calendar-feed.png", full_page=True)
    assert feed_url.startswith(settings.ELONARA_PUBLIC_URL + "/calendar/feed/")
    path = feed_url.removeprefix(settings.ELONARA_PUBLIC_URL)
    response = httpx.get(f"{base}{path}")
    assert response.status_code == 200
    titles = [str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(response.content).walk("VEVENT")]
    assert titles == ["Lakeside ride"]
    page.get_by_role("button", name="Turn the feed off").click()
    page.wait_for_selector("text=You have no calendar feed.")
    assert httpx.get(f"{base}{path}").status_code == 404
