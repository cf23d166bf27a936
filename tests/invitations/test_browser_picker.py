"""The picker in a real browser against the official PDS + App View, sent by a real worker.

alice (connected) opens her event, clicks "Invite from Bluesky", pages through her followers one
per page, searches, switches tabs, selects, reads the preview, sends, and watches the progress bar
reach the end; the post exists in her repo. bob, invited, shows as already invited afterwards.
"""

from __future__ import annotations

import os

import pytest
from django.test import Client

from bluesky import services as bluesky_services
from bluesky.models import WritesMode
from invitations.models import Invitation
from tests.browser.artifacts import page_width, screenshot_dir
from tests.browser.conftest import launch_browser, page  # noqa: F401 - fixtures
from tests.invitations.conftest import make_event, make_member
from tests.invitations.peer_helpers import (
    celery_worker,
    configure_for_peer,
    connect_bluesky,
    posts_in_repo,
    purge_queue,
    worker_env,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.peer,
    pytest.mark.services,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (make test starts one)"),
]


def test_picker_preview_send_and_progress(settings, peer, accounts, peer_consent, live_server, page,  # noqa: F811
                                          tmp_path):
    configure_for_peer(settings, peer)
    bluesky_services.writes_mode_set(mode=WritesMode.OAUTH)
    alice, bob, carol = accounts["alice"], accounts["bob"], accounts["carol"]
    host = make_member("alice")
    client = Client()
    client.force_login(host)
    connect_bluesky(client, peer_consent, alice)
    event = make_event(host=host, title="Picnic 🧺 by the lake")
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value,
                               "url": live_server.url}])

    page.goto(f"{live_server.url}{event.get_absolute_url()}")
    page.get_by_role("link", name="Invite from Bluesky").click()
    page.wait_for_url("**/invite/")
    # One follower per page, to walk real App View cursors.
    page.goto(page.url + "?page_size=1")
    page.wait_for_selector("#people li")
    first = page.locator("#people li .name").inner_text()
    page.get_by_role("button", name="Next page").click()
    page.wait_for_function(f"() => !document.querySelector('#people').innerText.includes({first!r})")
    second = page.locator("#people li .name").inner_text()
    assert {first.split("@")[-1], second.split("@")[-1]} == {bob.handle, carol.handle}
    assert page.get_by_role("button", name="Next page").is_disabled()

    # Search covers all pages; select bob; the preview is the exact post.
    page.get_by_label("Search").fill("bob")
    page.wait_for_function("() => document.querySelectorAll('#people li').length === 1")
    assert bob.handle in page.locator("#people").inner_text()
    # The post's language: the host's (English) offered first; they pick Brazilian Portuguese.
    assert page.locator("#message-language").input_value() == "en"
    page.select_option("#message-language", "pt-br")
    page.get_by_role("button", name="Select all shown").click()
    assert page.locator("#selected-count").inner_text() == "1 selected"
    page.wait_for_function("() => document.getElementById('preview').textContent.startsWith('@bob.test')")
    preview = page.locator("#preview").inner_text()
    assert "Picnic 🧺 by the lake" in preview
    # From which account, and how many more the host may invite today.
    page.wait_for_function("() => document.getElementById('preview-account').textContent.includes('@alice.test')")
    assert page.locator("#preview-account").inner_text() == "Posted from @alice.test (your account)"
    assert page.locator("#remaining-today").inner_text().startswith("You can invite ")

    # The Follows tab lists bob too.
    page.get_by_label("Search").fill("")
    page.get_by_role("tab", name="Follows").click()
    page.wait_for_function(f"() => document.querySelector('#people').innerText.includes({bob.handle!r})")

    # At a small phone's width the list, its search and the send button fit (kept as screenshots).
    for width in (360, 1280):
        page.set_viewport_size({"width": width, "height": 740})
        width_now, window = page_width(page)
        assert width_now <= window, (width, width_now)
        assert page.locator("#picker-search").is_visible() and page.locator("#people li").first.is_visible()
        page.screenshot(path=str(screenshot_dir() / f"host-picker-people-{width}.png"), full_page=True)

    purge_queue()
    with celery_worker(extra_env=worker_env(peer), log_path=tmp_path / "worker.log"):
        page.get_by_role("button", name="Send invitations").click()
        page.wait_for_url("**/invitations/batches/*/")
        page.wait_for_selector("#progress-done", state="visible", timeout=90_000)
    assert page.locator("#count-sent").inner_text() == "1"
    assert page.locator("#progress-bar").evaluate("b => [b.value, b.max]") == [1, 1]

    invitation = Invitation.objects.get(event=event)
    assert invitation.recipient_did == bob.did and invitation.status == Invitation.Status.SENT
    record = posts_in_repo(peer, alice.did)[invitation.rkey]
    # What the preview showed is what was posted (apart from the per-invitation token in the link).
    assert record["text"].split("http")[0] == preview.split("http")[0]
    assert record["langs"] == ["pt-BR"]

    # Back in the picker, bob is marked as already invited and cannot be picked again.
    page.goto(f"{live_server.url}/invitations/event/{event.pk}/invite/")
    page.wait_for_function("() => document.querySelector('#people').innerText.includes('already invited')")
    assert page.locator(f"li[data-did='{bob.did}'] input").is_disabled()
