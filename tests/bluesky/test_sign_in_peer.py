"""Continue with Bluesky, through Django against the official PDS: sign up, sign in again as the
same member, matched by DID only; flows bound to the browser that started them; deleting an
account leaves no secret behind and kills its session at the PDS."""

import httpx
import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from bluesky import clients
from bluesky.atproto import DpopKey, OAuthTokenError
from bluesky.crypto import encrypted_fields
from bluesky.models import BlueskyIdentity, BlueskySignIn, MemberAppPassword, OAuthAuthorizationRequest
from bluesky.sessions import tokens_of
from members.models import Member

pytestmark = [pytest.mark.peer, pytest.mark.django_db(transaction=True)]


def _start(client: Client, handle: str, next_path: str = "") -> str:
    response = client.post(reverse("bluesky:sign_in"), {"identifier": handle, "next": next_path})
    assert response.status_code == 302, response.content[:500]
    return response.url


def _set_profile(peer, account, display_name: str, avatar_png: bytes = b"") -> None:
    """bob edits his Bluesky profile, as he would in any app (his own PDS, his app password)."""
    with httpx.Client(base_url=peer.pds_url, timeout=10) as http:
        session = http.post("/xrpc/com.atproto.server.createSession",
                            json={"identifier": account.handle, "password": account.app_password}).json()
        auth = {"Authorization": f"Bearer {session['accessJwt']}"}
        record = {"$type": "app.bsky.actor.profile", "displayName": display_name}
        if avatar_png:
            blob = http.post("/xrpc/com.atproto.repo.uploadBlob", content=avatar_png,
                             headers={**auth, "Content-Type": "image/png"})
            record["avatar"] = blob.raise_for_status().json()["blob"]
        http.post("/xrpc/com.atproto.repo.putRecord", headers=auth,
                  json={"repo": account.did, "collection": "app.bsky.actor.profile", "rkey": "self",
                        "record": record}).raise_for_status()


def _png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (250, 196, 64)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_sign_up_then_sign_in_again_is_the_same_member(loopback_app, peer, accounts, peer_consent):
    bob = accounts["bob"]
    _set_profile(peer, bob, "Bob the Builder")
    browser = Client()
    params = peer_consent(_start(browser, bob.handle, "/events/"), bob)
    anonymous_session = browser.session.session_key
    landed = browser.get(reverse("bluesky:callback"), params)
    assert browser.session.session_key != anonymous_session  # rotated at sign-in
    assert landed.status_code == 302 and landed.url == "/events/"
    member = Member.objects.get()
    assert member.username == bob.handle.split(".")[0] and member.display_name == "Bob the Builder"
    assert not member.has_usable_password() and member.email == ""
    identity = BlueskyIdentity.objects.get(member=member)
    assert identity.did == bob.did and identity.status == "connected"
    assert int(browser.session["_auth_user_id"]) == member.pk

    browser.post(reverse("members:logout"))
    again = Client()
    again.get(reverse("bluesky:callback"), peer_consent(_start(again, bob.handle), bob))
    assert Member.objects.count() == 1 and int(again.session["_auth_user_id"]) == member.pk

    # Disconnected, a Bluesky-only member still signs in with Bluesky (by DID), as the same member.
    again.post(reverse("bluesky:disconnect"))
    assert not BlueskyIdentity.objects.exists() and BlueskySignIn.objects.get().did == bob.did
    third = Client()
    third.get(reverse("bluesky:callback"), peer_consent(_start(third, bob.handle), bob))
    assert Member.objects.count() == 1 and int(third.session["_auth_user_id"]) == member.pk
    assert BlueskyIdentity.objects.get().member == member


def test_a_did_connected_to_a_member_signs_that_member_in(loopback_app, accounts, peer_consent):
    alice = accounts["alice"]
    ann = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    owner = Client()
    owner.force_login(ann)
    response = owner.post(reverse("bluesky:connect"), {"identifier": alice.handle})
    owner.get(reverse("bluesky:callback"), peer_consent(response.url, alice))
    assert BlueskyIdentity.objects.get().member == ann

    visitor = Client()
    visitor.get(reverse("bluesky:callback"), peer_consent(_start(visitor, alice.handle), alice))
    assert Member.objects.count() == 1 and int(visitor.session["_auth_user_id"]) == ann.pk


def test_connecting_fills_in_the_avatar_and_a_missing_display_name(loopback_app, peer, accounts, peer_consent):
    """A member who signed up with a password shows, once connected, as their Bluesky posts do (the
    invitation landing shows the host's avatar); what they chose themselves is kept."""
    carol = accounts["carol"]
    _set_profile(peer, carol, "Carol from Bluesky", avatar_png=_png())
    ann = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    owner = Client()
    owner.force_login(ann)
    response = owner.post(reverse("bluesky:connect"), {"identifier": carol.handle})
    owner.get(reverse("bluesky:callback"), peer_consent(response.url, carol))
    ann.refresh_from_db()
    assert ann.display_name == "Carol from Bluesky"
    assert ann.avatar_url.startswith(peer.pds_url) and "getBlob" in ann.avatar_url
    assert httpx.get(ann.avatar_url, timeout=10).content == _png()

    ann.display_name = "Ann"
    ann.save(update_fields=["display_name"])
    owner.post(reverse("bluesky:disconnect"))
    response = owner.post(reverse("bluesky:connect"), {"identifier": carol.handle})
    owner.get(reverse("bluesky:callback"), peer_consent(response.url, carol))
    ann.refresh_from_db()
    assert ann.display_name == "Ann"


def test_callback_from_another_browser_is_refused_and_leaves_the_flow_alone(loopback_app, accounts, peer_consent):
    carol = accounts["carol"]
    starter = Client()
    params = peer_consent(_start(starter, carol.handle), carol)
    stranger = Client()
    refused = stranger.get(reverse("bluesky:callback"), params)
    assert refused.status_code == 400 and "another browser" in refused.content.decode()
    assert "_auth_user_id" not in stranger.session and not Member.objects.exists()
    # The stranger could not cancel it: the browser that started it finishes it.
    assert OAuthAuthorizationRequest.objects.count() == 1
    done = starter.get(reverse("bluesky:callback"), params)
    assert done.status_code == 302 and Member.objects.count() == 1


def test_another_member_cannot_consume_a_connect(loopback_app, accounts, peer_consent):
    carol = accounts["carol"]
    victim, attacker = (Member.objects.create_user(username=n, password="pw-long-enough-123") for n in ("vi", "at"))
    victim_browser = Client()
    victim_browser.force_login(victim)
    response = victim_browser.post(reverse("bluesky:connect"), {"identifier": carol.handle})
    params = peer_consent(response.url, carol)
    attacker_browser = Client()
    attacker_browser.force_login(attacker)
    assert attacker_browser.get(reverse("bluesky:callback"), params).status_code == 400
    assert victim_browser.get(reverse("bluesky:callback"), params).status_code == 302
    assert BlueskyIdentity.objects.get().member == victim


def test_deleting_an_account_leaves_no_secret_and_kills_the_session(loopback_app, peer, accounts, peer_consent):
    bob = accounts["bob"]
    browser = Client()
    browser.get(reverse("bluesky:callback"), peer_consent(_start(browser, bob.handle), bob))
    member = Member.objects.get()
    add = browser.post(reverse("bluesky:app_password_add"),
                       {"identifier": bob.handle, "app_password": bob.app_password, "next": "/"})
    assert add.status_code == 302 and MemberAppPassword.objects.filter(member=member).exists()
    identity = BlueskyIdentity.objects.get()
    last_tokens, dpop = tokens_of(identity), identity.dpop_private_jwk

    page = browser.get(reverse("members:account-delete")).content.decode()
    assert "posts already published on Bluesky are your own" in page
    browser.post(reverse("members:account-delete"), {"confirm_username": member.username})

    assert not Member.objects.exists()
    assert "_auth_user_id" not in browser.session
    # Every encrypted column in the database, every row: nothing left but our own client keys.
    leftovers = {}
    with connection.cursor() as cursor:
        for model in apps.get_models():
            columns = [model._meta.get_field(f).column for f in encrypted_fields(model)]
            if not columns or model._meta.label == "bluesky.ClientSigningKey":
                continue
            for column in columns:
                cursor.execute(f'SELECT COUNT(*) FROM "{model._meta.db_table}" WHERE "{column}" <> \'\'')
                count = cursor.fetchone()[0]
                if count:
                    leftovers[f"{model._meta.label}.{column}"] = count
    assert leftovers == {}
    # The refresh token we held is dead at the PDS.
    with pytest.raises(OAuthTokenError) as refused:
        clients.oauth_client().refresh(last_tokens, dpop_key=DpopKey.from_private_jwk(dpop))
    assert refused.value.error == "invalid_grant"


def test_sign_in_start_is_rate_limited(loopback_app, accounts, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "bluesky_start": (2, 600)}
    browser = Client()
    for _ in range(2):
        assert browser.post(reverse("bluesky:sign_in"), {"identifier": accounts["bob"].handle}).status_code == 302
    limited = browser.post(reverse("bluesky:sign_in"), {"identifier": accounts["bob"].handle}, follow=True)
    assert "Too many attempts" in limited.content.decode()
    assert OAuthAuthorizationRequest.objects.count() == 2
