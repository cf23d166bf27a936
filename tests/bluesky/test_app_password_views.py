"""App-password endpoints: login, POST and CSRF required; removal forgets the secret and its session.
(Adding one signs in for real, so it is tested against the PDS in test_peer_legacy.py.)"""

import pytest
from django.test import Client
from django.urls import reverse

from bluesky.models import AppPasswordSession, MemberAppPassword

pytestmark = pytest.mark.django_db


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="ana", password="pw-123456")


def test_login_required(client):
    for name in ("app_password", "app_password_add", "app_password_remove"):
        response = client.post(reverse(f"bluesky:{name}"))
        assert response.status_code in (302, 405)
        if response.status_code == 302:
            assert "login" in response["Location"]


def test_get_not_allowed_on_writes(client, member):
    client.force_login(member)
    assert client.get(reverse("bluesky:app_password_add")).status_code == 405
    assert client.get(reverse("bluesky:app_password_remove")).status_code == 405


def test_csrf_enforced(member):
    client = Client(enforce_csrf_checks=True)
    client.force_login(member)
    response = client.post(reverse("bluesky:app_password_add"), {"identifier": "a.test", "app_password": "x"})
    assert response.status_code == 403
    assert not MemberAppPassword.objects.exists()


def test_page_shows_form_and_never_the_secret(client, member):
    secret = "abcd-efgh-ijkl-mnop"
    MemberAppPassword.objects.create(member=member, identifier="ana.test", handle="ana.test", app_password=secret)
    client.force_login(member)
    page = client.get(reverse("bluesky:app_password"))
    assert page.status_code == 200
    assert b"@ana.test" in page.content and b"Remove app password" in page.content
    assert secret.encode() not in page.content


def test_remove_forgets_password_and_session(client, member):
    MemberAppPassword.objects.create(member=member, identifier="ana.test", app_password="abcd-efgh-ijkl-mnop")
    AppPasswordSession.objects.create(
        account_key=f"member:{member.pk}", identifier="ana.test", access_jwt="a", refresh_jwt="r"
    )
    client.force_login(member)
    response = client.post(reverse("bluesky:app_password_remove"), {"next": "/"})
    assert response.status_code == 302 and response["Location"] == "/"
    assert not MemberAppPassword.objects.exists()
    assert not AppPasswordSession.objects.exists()


def test_next_must_be_same_site(client, member):
    client.force_login(member)
    response = client.post(reverse("bluesky:app_password_remove"), {"next": "https://evil.example/"})
    assert response["Location"] == reverse("bluesky:app_password")


def test_secret_columns_hold_no_plaintext(member):
    from django.db import connection

    MemberAppPassword.objects.create(member=member, identifier="ana.test", app_password="abcd-efgh-ijkl-mnop")
    AppPasswordSession.objects.create(
        account_key="k", identifier="ana.test", access_jwt="eyJaccess", refresh_jwt="eyJrefresh"
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT app_password FROM bluesky_memberapppassword")
        (stored,) = cursor.fetchone()
        cursor.execute("SELECT access_jwt, refresh_jwt FROM bluesky_apppasswordsession")
        access, refresh = cursor.fetchone()
    assert "abcd" not in stored and "eyJaccess" not in access and "eyJrefresh" not in refresh
    assert MemberAppPassword.objects.get().app_password == "abcd-efgh-ijkl-mnop"


def test_bluesky_card_on_profile_offers_the_form_and_comes_back(client, member):
    client.force_login(member)
    profile = client.get(reverse("members:me"), follow=True)
    assert profile.status_code == 200
    html = profile.content.decode()
    assert reverse("bluesky:app_password_add") in html and "Save app password" in html
    page_path = profile.redirect_chain[-1][0] if profile.redirect_chain else reverse("members:me")
    MemberAppPassword.objects.create(member=member, identifier="ana.test", handle="ana.test", app_password="s-e-c-r")
    shown = client.get(page_path).content.decode()
    assert "Remove app password" in shown and "@ana.test" in shown and "s-e-c-r" not in shown
    response = client.post(reverse("bluesky:app_password_remove"), {"next": page_path})
    assert response.status_code == 302 and response["Location"] == page_path
    assert "Remove app password" not in client.get(page_path).content.decode()


def test_old_agents_urls_redirect_with_their_method(client, member):
    """Pages that moved when bluesky.agents joined bluesky: 308 keeps POST a POST."""
    client.force_login(member)
    page = client.get("/bluesky/agents/app-password/?next=/x/")
    assert page.status_code == 308 and page["Location"] == "/bluesky/app-password/?next=/x/"
    form = client.post("/bluesky/agents/app-password/remove/")
    assert form.status_code == 308 and form["Location"] == "/bluesky/app-password/remove/"
    admin = client.get("/admin/bluesky_agents/writesmodesetting/1/change/")
    assert admin.status_code == 308 and admin["Location"] == "/admin/bluesky/writesmodesetting/1/change/"


def test_the_cards_read_of_an_app_password_carries_no_secret(member):
    from bluesky.selectors import member_app_password_get

    MemberAppPassword.objects.create(member=member, identifier="ana.test", handle="ana.test",
                                     app_password="abcd-efgh-ijkl-mnop")
    summary = member_app_password_get(member=member)
    assert summary is not None and summary.handle == "ana.test"
    assert not hasattr(summary, "app_password") and "abcd-efgh" not in repr(summary)
