"""The language of the answer: the member's setting, then the footer's cookie, then the browser's
Accept-Language (core.i18n); kept pages are kept per language."""

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from members.models import Member

ORIGIN = "http://testserver"


def html_lang(response) -> str:
    match = re.search(rb'<html lang="([^"]+)"', response.content)
    assert match, "no <html lang>"
    return match.group(1).decode()


@pytest.fixture
def member(db):
    return Member.objects.create_user(username="ines", password="pw-123456-long", email="ines@example.test")


@pytest.mark.django_db
def test_the_browser_chooses_then_the_cookie_then_the_members_setting(client, member):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="de-DE,de;q=0.9,en;q=0.5")
    assert html_lang(response) == "de" and response["Content-Language"] == "de"
    assert "Accept-Language" in response["Vary"]
    # Brazilian Portuguese asked as pt-BR; a language we do not speak falls back to English.
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="pt-BR")) == "pt-br"
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9")) == "en"

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="de")) == "ja"

    member.language = "es"
    member.save(update_fields=["language"])
    client.force_login(member)
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="de")) == "es"


@pytest.mark.django_db
def test_the_footer_menu_keeps_a_visitors_choice_in_a_cookie_and_a_members_as_their_setting(client, member):
    page = client.get("/communities/")
    assert b'name="language"' in page.content and b'lang="ja"' in page.content
    # No CSRF token in the menu: a visitor's first view sets no cookie (pages are kept and shared).
    assert not page.cookies

    # Sent from somewhere else (no Origin or another one): refused, nothing changes.
    assert client.post(reverse("language"), {"language": "ja"}).status_code == 403
    assert client.post(reverse("language"), {"language": "ja"}, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    response = client.post(reverse("language"), {"language": "ja", "next": "/communities/"}, HTTP_ORIGIN=ORIGIN)
    assert response.status_code == 302 and response["Location"] == "/communities/"
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"
    assert html_lang(client.get("/communities/")) == "ja"

    # Somewhere else, or a language we do not speak: home, and the choice is cleared.
    response = client.post(reverse("language"), {"language": "xx", "next": "https://elsewhere.example/"},
                           HTTP_SEC_FETCH_SITE="same-origin")
    assert response["Location"] == reverse("home")
    assert response.cookies[settings.LANGUAGE_COOKIE_NAME].value == ""

    client.force_login(member)
    client.post(reverse("language"), {"language": "pt-BR", "next": "/"}, HTTP_ORIGIN=ORIGIN)
    member.refresh_from_db()
    assert member.language == "pt-br"


@pytest.mark.django_db
def test_the_profile_sets_the_language_and_empty_follows_the_browser(client, member):
    client.force_login(member)
    form = {"display_name": "Inês", "email": member.email, "bio": ""}
    client.post(reverse("members:profile-edit"), {**form, "language": "de"})
    member.refresh_from_db()
    assert member.language == "de"
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="ja")) == "de"
    client.post(reverse("members:profile-edit"), {**form, "language": ""})
    member.refresh_from_db()
    assert member.language == ""
    assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE="ja")) == "ja"


@pytest.mark.django_db
def test_kept_pages_are_kept_per_language(client, member):
    # The visitors' home is kept whole (core.page_cache): a copy made for one language is never
    # served in another.
    for language in ("de", "en", "ja", "de"):
        assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE=language)) == language
    client.force_login(member)
    for language in ("es", "en", "es"):
        assert html_lang(client.get("/", HTTP_ACCEPT_LANGUAGE=language)) == language


@pytest.mark.django_db
def test_a_members_last_language_is_written_once_when_it_changes_never_per_request(client, member):
    """Their mail follows it (core.i18n.member_language); their kept row is renewed by the write, so
    the next request sees it and writes nothing."""
    client.force_login(member)

    def language_writes(**headers) -> int:
        with CaptureQueriesContext(connection) as queries:
            client.get("/communities/", **headers)
        return sum(1 for q in queries.captured_queries if q["sql"].startswith("UPDATE") and "last_language" in q["sql"])

    assert language_writes(HTTP_ACCEPT_LANGUAGE="en") == 0  # English until they visit: no change
    assert language_writes(HTTP_ACCEPT_LANGUAGE="de") == 1
    assert language_writes(HTTP_ACCEPT_LANGUAGE="de") == 0
    assert language_writes(HTTP_ACCEPT_LANGUAGE="de") == 0
    member.refresh_from_db()
    assert member.last_language == "de"
    assert language_writes(HTTP_ACCEPT_LANGUAGE="ja") == 1
