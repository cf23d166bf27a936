"""A member who forgot their password gets back in, in a real browser, with the mail read from a
real SMTP server on loopback."""

import re

import pytest

from members.models import Member
from tests.notifications.helpers import drain

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_forgotten_password_reset_by_email(live_server, page, mail_server, settings):
    settings.ELONARA_PUBLIC_URL = live_server.url  # links in mails point at this server
    Member.objects.create_user(username="maya", email="maya@example.org", password="forgotten-long-ago-1",
                               display_name="Maya")
    base = live_server.url
    page.goto(f"{base}/members/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("maya@example.org")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url("**/password-reset/sent/")
    known = page.locator("#reset-sent").inner_text()
    # An address nobody uses gets the very same page.
    page.goto(f"{base}/members/password-reset/")
    page.get_by_label("Email").fill("nobody@example.org")
    page.get_by_role("button", name="Send the link").click()
    page.wait_for_url("**/password-reset/sent/")
    assert page.locator("#reset-sent").inner_text() == known

    assert drain().sent == 1  # what the worker does
    [received] = mail_server.to("maya@example.org")
    assert not mail_server.to("nobody@example.org")
    link = re.search(r"https?://\S+/members/password-reset/\S+/", received.text()).group(0)
    assert link.startswith(base)
    page.goto(link)
    assert "set-password" in page.url and link not in page.url  # the token leaves the address bar
    page.locator("#id_new_password1").fill("a-brand-new-secret-42")
    page.locator("#id_new_password2").fill("a-brand-new-secret-42")
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_selector("#reset-complete")

    page.get_by_role("link", name="Log in").first.click()
    page.get_by_label("Username").fill("maya")
    page.get_by_label("Password").fill("a-brand-new-secret-42")
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{base}/")
    assert page.get_by_role("link", name="Maya").is_visible()
    # The link worked once.
    page.goto(link)
    assert "not valid any more" in page.content()
