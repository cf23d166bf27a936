"""A new member, in a real browser: sign up, create a community and an event, RSVP, see it at home."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_journey(live_server, page):
    base = live_server.url
    page.goto(f"{base}/")
    page.get_by_role("link", name="Sign up").first.click()
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Email").fill("maya@example.org")
    page.get_by_label("Display name").fill("Maya")
    page.locator("#id_password1").fill("correct-horse-battery-9")
    page.locator("#id_password2").fill("correct-horse-battery-9")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url(f"{base}/")
    assert "Welcome to Elonara, Maya!" in page.content()

    page.get_by_role("link", name="Start a community").click()
    page.get_by_label("Name").fill("Sunday Cyclists")
    page.get_by_label("Description").fill("Easy rides every Sunday.")
    page.get_by_role("button", name="Create community").click()
    page.wait_for_url("**/communities/sunday-cyclists/")
    assert page.get_by_role("heading", name="Sunday Cyclists").is_visible()

    page.get_by_role("link", name="New event here").click()
    page.get_by_label("Title").fill("Lakeside ride")
    page.get_by_label("Starts").fill("2031-06-01T09:30")
    page.get_by_label("Ends").fill("2031-06-01T12:00")
    page.get_by_label("Time zone").select_option("Europe/Berlin")
    page.get_by_label("Place").fill("Boathouse")
    page.get_by_role("button", name="Publish event").click()
    page.wait_for_url("**/events/*/")
    assert "09:30" in page.locator("dl.facts").inner_text()

    # Maya hosts it: she is going already (no question to answer), and listed first, marked Host.
    assert page.locator("#host-title").inner_text() == "You're hosting"
    assert page.get_by_role("button", name="Going", exact=True).count() == 0
    assert "Maya" in page.locator("#attendees").inner_text() and page.locator("#host-badge").is_visible()

    page.get_by_role("link", name="Home").click()
    upcoming = page.locator("#upcoming-events").inner_text()
    assert "Lakeside ride" in upcoming and "1 going" in upcoming
    assert "Lakeside ride" in page.locator("#my-rsvps").inner_text()
    assert "Sunday Cyclists" in page.locator("#my-communities").inner_text()
    page.screenshot(path="/tmp/elonara-home.png", full_page=True)
