"""Account mail through a real SMTP server on loopback: address confirmation, a changed address,
password reset without telling who has an account."""

from __future__ import annotations

import re

import pytest
from django.core import signing
from django.test import Client

from members.models import Member
from notifications.models import Mail, MailSettings
from tests.notifications.helpers import drain

pytestmark = pytest.mark.django_db


def _link(received, path: str) -> str:
    match = re.search(rf"http://127\.0\.0\.1:8000({re.escape(path)}[^\s]+)", received.text())
    assert match, received.text()
    return match.group(1)


def _signup(client: Client, username: str, email: str) -> Member:
    response = client.post("/members/signup/", {"username": username, "email": email, "display_name": "",
                                                "password1": "correct-horse-battery-9",
                                                "password2": "correct-horse-battery-9"})
    assert response.status_code == 302
    return Member.objects.get(username=username)


def test_sign_up_sends_a_confirmation_link_that_proves_the_address(mail_server, client,
                                                                   django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        maya = _signup(client, "maya", "maya@example.org")
    drain()
    [received] = mail_server.to("maya@example.org")
    assert received.subject == "Confirm your email address for Elonara"
    assert "List-Unsubscribe" not in received.message  # account mail, not a notification
    path = _link(received, "/notifications/confirm/")
    assert path in received.html()
    anonymous = Client()
    page = anonymous.get(path)  # a link scanner's GET confirms nothing
    assert page.status_code == 200 and b"maya@example.org" in page.content
    assert not MailSettings.objects.filter(member=maya, confirmed_email="maya@example.org").exists()
    assert anonymous.post(path).status_code == 200
    assert MailSettings.objects.get(member=maya).is_confirmed("maya@example.org")
    profile = client.get("/members/maya/").content.decode()
    assert "(confirmed)" in profile


def test_a_new_address_must_be_confirmed_again_and_old_links_stop_working(mail_server, client,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        maya = _signup(client, "maya", "maya@example.org")
    drain()
    old_link = _link(mail_server.to("maya@example.org")[0], "/notifications/confirm/")
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/members/me/edit/", {"display_name": "Maya", "email": "maya@new.example", "bio": ""})
    drain()
    assert Client().post(old_link).status_code == 400
    new_link = _link(mail_server.to("maya@new.example")[0], "/notifications/confirm/")
    assert "not confirmed yet" in client.get("/members/maya/").content.decode()
    assert Client().post(new_link).status_code == 200
    assert MailSettings.objects.get(member=maya).is_confirmed("maya@new.example")


def test_an_expired_or_forged_confirmation_link_is_refused(mail_server, client, settings,
                                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _signup(client, "maya", "maya@example.org")
    drain()
    path = _link(mail_server.to("maya@example.org")[0], "/notifications/confirm/")
    settings.EMAIL_CONFIRMATION_MAX_AGE = -1
    assert Client().post(path).status_code == 400
    settings.EMAIL_CONFIRMATION_MAX_AGE = 3600
    forged = "/notifications/confirm/" + signing.dumps({"m": 1, "e": "x@example.org"}, salt="other") + "/"
    assert Client().post(forged).status_code == 400


def test_bluesky_members_have_no_address_until_they_add_one(mail_server, client):
    member = Member(username="bsky")
    member.set_unusable_password()
    member.save()
    client.force_login(member)
    page = client.get("/members/bsky/").content.decode()
    assert "No email address on your account" in page
    assert not Mail.objects.exists()


def test_password_reset_answers_the_same_for_unknown_addresses_and_is_rate_limited(
        mail_server, settings, django_capture_on_commit_callbacks):
    Member.objects.create_user(username="maya", email="maya@example.org", password="old-password-123")
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "password_reset": (3, 900)}
    answers = []
    with django_capture_on_commit_callbacks(execute=True):
        for address in ("maya@example.org", "nobody@example.org"):
            response = Client().post("/members/password-reset/", {"email": address}, follow=True)
            answers.append((response.status_code, response.redirect_chain, response.content))
    assert answers[0] == (answers[1][0], answers[1][1], answers[1][2])
    drain()
    assert len(mail_server.to("maya@example.org")) == 1 and not mail_server.to("nobody@example.org")
    # One address asked for too often, from several clients: refused, for known and unknown alike.
    for n in range(3):
        Client(REMOTE_ADDR=f"10.0.0.{n}").post("/members/password-reset/", {"email": "maya@example.org"})
    limited = Client(REMOTE_ADDR="10.0.0.9").post("/members/password-reset/", {"email": "maya@example.org"})
    assert limited.status_code == 429 and "Retry-After" in limited


def test_password_reset_link_sets_a_new_password_once(mail_server, django_capture_on_commit_callbacks):
    maya = Member.objects.create_user(username="maya", email="maya@example.org", password="old-password-123")
    with django_capture_on_commit_callbacks(execute=True):
        Client().post("/members/password-reset/", {"email": "MAYA@example.org"})
    drain()
    [received] = mail_server.to("maya@example.org")
    assert received.subject == "Reset your Elonara password"
    path = _link(received, "/members/password-reset/")
    assert not Mail.objects.filter(details__icontains=path.split("/")[-2]).exists()  # the token is not stored
    browser = Client()
    form = browser.get(path, follow=True)
    assert form.status_code == 200 and path not in form.redirect_chain[-1][0]  # token out of the address bar
    done = browser.post(form.redirect_chain[-1][0], {"new_password1": "brand-new-secret-77",
                                                     "new_password2": "brand-new-secret-77"})
    assert done.status_code == 302
    maya.refresh_from_db()
    assert maya.check_password("brand-new-secret-77")
    assert b"not valid any more" in Client().get(path, follow=True).content
