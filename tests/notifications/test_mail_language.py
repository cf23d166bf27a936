"""Mail in its recipient's language (issue 39), through the real SMTP server: their own setting,
else the language of the last page they were answered in, else English."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from elonara import services as events
from members.models import Member
from notifications import services
from tests.notifications.helpers import drain, event, member

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
# Saturday 3 July 2027, 19:30 in Berlin.
START = datetime(2027, 7, 3, 19, 30, tzinfo=BERLIN)


def html_lang(received) -> str:
    match = re.search(r'<html lang="([^"]+)"', received.html())
    assert match, "no <html lang>"
    return match.group(1)


def _going(maya: Member, host: Member, django_capture_on_commit_callbacks):
    party = event(host, starts_at=START, time_zone="Europe/Berlin")
    with django_capture_on_commit_callbacks(execute=True):
        events.rsvp_set(event=party, member=maya, status="going")
    assert drain().sent == 1


def test_a_member_who_chose_german_gets_german_mail(mail_server, django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya")
    maya.language = "de"
    maya.save(update_fields=["language"])
    _going(maya, host, django_capture_on_commit_callbacks)
    [received] = mail_server.to("maya@example.org")
    assert html_lang(received) == "de"
    # Rendered under German: the event's time in German words, in the text and the HTML part.
    assert "Samstag, 3. Juli 2027, 19:30–21:30" in received.text()
    assert "Samstag, 3. Juli 2027, 19:30–21:30" in received.html()
    assert "Saturday" not in received.text()


def test_without_a_setting_the_mail_follows_the_last_page_they_read(mail_server, django_capture_on_commit_callbacks):
    host, maya = member("host"), member("maya")
    assert maya.last_language == "en"
    browser = Client()
    browser.force_login(maya)
    browser.get("/", HTTP_ACCEPT_LANGUAGE="ja-JP,ja;q=0.9")
    maya.refresh_from_db()
    assert maya.last_language == "ja"
    _going(maya, host, django_capture_on_commit_callbacks)
    [received] = mail_server.to("maya@example.org")
    assert html_lang(received) == "ja" and "2027年7月3日(土) 19:30–21:30" in received.text()


def test_a_password_reset_is_in_the_members_language_and_english_by_default(mail_server):
    maya, sam = member("maya"), member("sam")
    Member.objects.filter(pk=maya.pk).update(language="es")
    maya.refresh_from_db()
    services.password_reset_request(member=maya)
    services.password_reset_request(member=sam)
    drain()
    assert html_lang(mail_server.to("maya@example.org")[0]) == "es"
    assert html_lang(mail_server.to("sam@example.org")[0]) == "en"
