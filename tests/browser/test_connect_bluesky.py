"""A member connects Bluesky in a real browser, through the official PDS's own sign-in and consent."""

import pytest

from bluesky import clients
from members.models import Member

pytestmark = [pytest.mark.browser, pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def test_connect_in_a_browser(live_server, launch_browser, peer_settings, accounts):
    # Loopback client: the redirect names 127.0.0.1, so the member uses Elonara at 127.0.0.1 too.
    base = live_server.url.replace("localhost", "127.0.0.1")
    peer_settings.ELONARA_PUBLIC_URL = base
    clients.reset()
    Member.objects.create_user(username="ann", password="pw-long-enough-123", display_name="Ann")
    alice = accounts["alice"]

    page = launch_browser().new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/members/login/")
    page.get_by_label("Username").fill("ann")
    page.get_by_label("Password").fill("pw-long-enough-123")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    page.goto(f"{base}/members/me/")
    page.get_by_label("Your handle, DID or server").fill(alice.handle)
    page.get_by_role("button", name="Connect Bluesky").click()

    # The PDS's own pages: the handle is pre-filled from login_hint.
    page.wait_for_url(f"{peer_settings.ATPROTO_HANDLE_RESOLVER_URL}/**")
    page.locator("input[type=password]").fill(alice.password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Authorize").click()

    page.wait_for_url(f"{base}/members/ann/")
    status = page.locator("#bluesky-status").inner_text()
    assert "Connected" in status and alice.handle in status
    assert page.locator("#bluesky-did").inner_text() == alice.did
    page.screenshot(path="/tmp/elonara-bluesky-card.png", full_page=True)
