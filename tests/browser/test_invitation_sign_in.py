"""From a Bluesky invitation post to "Going" with one Bluesky sign-in, in a real browser.

bob has no Elonara account. He opens the link in alice's invitation post, continues with Bluesky,
signs in on his own server's pages (the official PDS), lands back on the event recognised as the
invitee and answers Going; the invitation is accepted. He signs out and in again with Bluesky and
is the same member.
"""

import pytest

from bluesky import clients
from bluesky import services as bluesky_services
from bluesky.agents.legacy import LegacyBlueskyAgent
from invitations import services as invitation_services
from invitations.models import Invitation
from members.models import Member
from tests.invitations.conftest import make_event, make_member, profile

pytestmark = [pytest.mark.browser, pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def _sign_in_on_the_pds(page, pds_url: str, account, base: str) -> None:
    """The PDS's own pages: sign in if it asks, then authorize if it asks (it may remember)."""
    page.wait_for_url(lambda url: url.startswith(pds_url) or url.startswith(base))
    if page.url.startswith(pds_url):
        password = page.locator("input[type=password]")
        password.or_(page.get_by_role("button", name="Authorize")).first.wait_for()
        if password.is_visible():
            password.fill(account.password)
            page.get_by_role("button", name="Sign in").click()
        page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{base}/**")


def test_invitee_goes_from_the_post_to_going_with_one_sign_in(live_server, launch_browser, peer_settings,
                                                               accounts, settings):
    base = live_server.url.replace("localhost", "127.0.0.1")
    peer_settings.ELONARA_PUBLIC_URL = base
    peer_settings.INVITATIONS_PACING_ENABLED = False
    clients.reset()
    alice, bob = accounts["alice"], accounts["bob"]
    host = make_member("alice")
    bluesky_services.member_app_password_set(member=host, identifier=alice.handle, app_password=alice.app_password)
    event = make_event(host=host, title="Harbour lights walk")
    batch = invitation_services.invitations_enqueue(host=host, target=event, profiles=[profile(bob.handle, bob.did)],
                                                    message_template="").batch
    invitation = batch.invitations.get()
    invitation_services.invitation_send(invitation_id=invitation.pk, agent=LegacyBlueskyAgent())
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.SENT
    link = invitation_services.invitation_compose(invitation=invitation).facets[-1]["features"][0]["uri"]
    assert link.startswith(base)

    page = launch_browser().new_page()
    page.set_default_timeout(20_000)
    page.goto(link)
    banner = page.locator("#invitation-banner")
    assert f"@{alice.handle}" in banner.inner_text() or "invited you" in banner.inner_text()
    assert banner.get_by_label("Your Bluesky handle").input_value() == bob.handle
    banner.get_by_role("button", name="Continue with Bluesky").click()
    _sign_in_on_the_pds(page, peer_settings.ATPROTO_HANDLE_RESOLVER_URL, bob, base)

    # Back on the invitation, recognised: one click answers.
    page.wait_for_url(f"{base}{event.get_absolute_url()}?invitation=*")
    answer = page.locator("#invitation-answer")
    assert f"@{bob.handle}" in page.locator("#invitation-banner").inner_text()
    page.screenshot(path="/tmp/elonara-invitation-recognised.png", full_page=True)
    answer.get_by_role("button", name="Going", exact=True).click()
    page.wait_for_url(f"{base}{event.get_absolute_url()}")
    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ACCEPTED
    bob_member = Member.objects.get(bluesky_identity__did=bob.did)
    assert invitation.accepted_by == bob_member and not bob_member.has_usable_password()
    assert event.rsvps.get(member=bob_member).status == "going"

    # Signs out, and in again with Bluesky from the login page: the same member.
    page.get_by_role("button", name="Log out").click()
    page.goto(f"{base}/members/login/")
    page.get_by_label("Your Bluesky handle").fill(bob.handle)
    page.get_by_role("button", name="Continue with Bluesky").click()
    _sign_in_on_the_pds(page, peer_settings.ATPROTO_HANDLE_RESOLVER_URL, bob, base)
    page.wait_for_url(f"{base}/")
    assert Member.objects.filter(bluesky_identity__did=bob.did).count() == 1
    page.goto(f"{base}/members/me/")
    assert page.url.endswith(f"/members/{bob_member.username}/")
