"""Issue 11, the Django side: refresh outside any transaction, sessions that end clearly, secrets
kept out of error reports and the admin, and limits on what a member can make us do.

Faults a real server cannot produce on demand (an account that moved, a disconnect in the middle
of a refresh, a slow authorization server) come from the MockTransport network of
tests/bluesky/atproto/fake_network.py; the honest paths are tested against the official PDS.
"""

from __future__ import annotations

import json
import sys
import threading
from datetime import timedelta

import httpx
import pytest
from django.db import DatabaseError, connection
from django.test import Client, RequestFactory
from django.utils import timezone
from django.views.debug import ExceptionReporter

from bluesky import keys
from bluesky.atproto import ClientConfig, DpopKey, IdentityResolver, OAuthClient, SafeHttpClient
from bluesky.models import AppPasswordSession, BlueskyIdentity, OAuthAuthorizationRequest
from bluesky.sessions import OAuthPdsSession
from members.models import Member
from tests.bluesky.atproto.fake_network import ALICE, ISSUER, PDS, PLC, FakeNetwork, did_document

SECRET_ACCESS = "at-stored-secret-access"
SECRET_REFRESH = "rt-stored-secret-refresh"


def _client(network_handler, *, keyset=None) -> OAuthClient:
    http = SafeHttpClient(transport=httpx.MockTransport(network_handler))
    resolver = IdentityResolver(http=http, plc_url=PLC, handle_resolver_url="https://resolver.example.com")
    config = ClientConfig(client_id="http://localhost?redirect_uri=x", redirect_uri="http://127.0.0.1:8000/cb",
                          scope="atproto", keyset=keyset)
    return OAuthClient(config, http=http, resolver=resolver)


def _identity(member: Member, *, auth_method: str = "none") -> BlueskyIdentity:
    return BlueskyIdentity.objects.create(
        member=member, did=ALICE, handle="alice.example.com", pds_url=PDS, issuer=ISSUER, scope="atproto",
        access_token=SECRET_ACCESS, refresh_token=SECRET_REFRESH,
        dpop_private_jwk=DpopKey.generate().private_jwk_json(), connected_at=timezone.now(),
        expires_at=timezone.now() - timedelta(minutes=1), auth_method=auth_method,
    )


@pytest.fixture
def ann():
    return Member.objects.create_user(username="ann", password="pw-long-enough-123")


def _token_posts(network: FakeNetwork) -> list:
    return [call for call in network.calls if call[1].endswith("/oauth/token")]


@pytest.mark.django_db
def test_an_account_that_moved_to_another_server_must_reconnect_and_keeps_its_tokens_home(ann):
    network = FakeNetwork()
    network.documents[ALICE] = did_document(ALICE, "alice.example.com", "https://new-pds.example.net")
    network.resource_issuer["https://new-pds.example.net"] = "https://other-auth.example.net"
    identity = _identity(ann)
    session = OAuthPdsSession(identity, oauth_client=_client(network.handle))
    with pytest.raises(Exception) as ended:
        session.refresh(force=True)
    assert ended.value.__class__.__name__ == "SessionEndedError"
    identity.refresh_from_db()
    assert identity.status == BlueskyIdentity.Status.NEEDS_RECONNECTION
    assert _token_posts(network) == []  # the refresh token never went to the old server


@pytest.mark.django_db
def test_a_session_made_by_another_kind_of_client_fails_clearly(ann):
    network = FakeNetwork()
    identity = _identity(ann, auth_method="private_key_jwt")  # made by the confidential client
    with pytest.raises(Exception) as ended:
        OAuthPdsSession(identity, oauth_client=_client(network.handle)).refresh(force=True)  # loopback now
    assert ended.value.__class__.__name__ == "SessionEndedError"
    identity.refresh_from_db()
    assert identity.status == BlueskyIdentity.Status.NEEDS_RECONNECTION and _token_posts(network) == []


@pytest.mark.django_db
def test_disconnect_during_a_refresh_revokes_what_the_server_just_issued(ann):
    network = FakeNetwork()
    identity = _identity(ann)

    def disconnect_while_the_server_answers(request: httpx.Request) -> httpx.Response:
        response = network.handle(request)
        if request.url.path == "/oauth/token" and response.status_code == 200:
            BlueskyIdentity.objects.filter(pk=identity.pk).delete()  # the member disconnects meanwhile
        return response

    with pytest.raises(Exception) as ended:
        OAuthPdsSession(identity, oauth_client=_client(disconnect_while_the_server_answers)).refresh(force=True)
    assert ended.value.__class__.__name__ == "SessionEndedError"
    assert network.revoked == ["rt-1"]  # the refresh token issued a moment ago is dead too


@pytest.mark.django_db
def test_identity_keeps_only_its_own_servers_nonces(ann):
    network = FakeNetwork()
    identity = _identity(ann)
    client = _client(network.handle)
    client.nonces.set("https://some-other-server.example.org", "foreign-nonce")
    OAuthPdsSession(identity, oauth_client=client).refresh(force=True)
    identity.refresh_from_db()
    assert set(identity.dpop_nonces) <= {ISSUER, PDS} and identity.dpop_nonces
    assert identity.access_token == "at-refresh_token"


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_our_keys_are_served_while_a_refresh_waits_on_a_slow_server(ann, settings):
    """The authorization server fetches our jwks.json to check a refresh's client assertion; with a
    cold cache, serving it must not wait for the refreshing process (PostgreSQL: row locks)."""
    if connection.vendor != "postgresql":
        pytest.fail("the services tier runs on PostgreSQL")
    settings.ELONARA_PUBLIC_URL = "https://elonara.example.org"
    keyset = keys.client_keyset()  # creates the active key
    identity = _identity(ann, auth_method="private_key_jwt")
    BlueskyIdentity.objects.filter(pk=identity.pk).update(client_kid=keyset.active_kid)
    identity.refresh_from_db()
    network = FakeNetwork()
    in_token_call, release = threading.Event(), threading.Event()

    def slow_token_endpoint(request: httpx.Request) -> httpx.Response:
        response = network.handle(request)
        if request.url.path == "/oauth/token" and response.status_code == 200:
            in_token_call.set()
            release.wait(30)
        return response

    errors: list[BaseException] = []

    def refresh() -> None:
        try:
            OAuthPdsSession(identity, oauth_client=_client(slow_token_endpoint, keyset=keyset)).refresh(force=True)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    worker = threading.Thread(target=refresh)
    worker.start()
    try:
        assert in_token_call.wait(20), "the refresh never reached the token endpoint"
        keys.client_keyset_forget()  # a cold cache: jwks.json reads the keys from the database
        served: dict = {}

        def fetch_jwks() -> None:
            served["response"] = Client().get("/bluesky/jwks.json")
            connection.close()

        reader = threading.Thread(target=fetch_jwks)
        reader.start()
        reader.join(8)
        assert not reader.is_alive(), "jwks.json waited for the refreshing process"
        assert served["response"].status_code == 200
        assert served["response"].json()["keys"][0]["kid"] == keyset.active_kid
    finally:
        release.set()
        worker.join(30)
    assert errors == []
    identity.refresh_from_db()
    assert identity.access_token == "at-refresh_token" and not identity.renew_lease


@pytest.mark.django_db
def test_pending_sign_ins_show_no_verifier_or_key_in_the_admin(client):
    staff = Member.objects.create_superuser(username="staff", email="s@x.org", password="pw-long-enough-123")
    OAuthAuthorizationRequest.objects.create(
        state="state-secret-1234567890", member=staff, issuer=ISSUER, expires_at=timezone.now() + timedelta(minutes=5),
        payload=json.dumps({"code_verifier": "VERIFIER-SECRET-value", "dpop_key": {"d": "DPOP-D-SECRET"}}),
    )
    client.force_login(staff)
    listing = client.get("/admin/bluesky/oauthauthorizationrequest/")
    assert listing.status_code == 200
    for secret in ("VERIFIER-SECRET", "DPOP-D-SECRET", "state-secret-1234567890"):
        assert secret not in listing.content.decode()
    page = client.get("/admin/bluesky/oauthauthorizationrequest/state-secret-1234567890/change/")
    assert page.status_code in (302, 403, 404) and "VERIFIER-SECRET" not in page.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [False, True])
def test_error_reports_show_no_app_password(ann, settings, debug):
    """An unexpected failure while saving an app password (here: a stored secret that cannot be
    decrypted) makes an error report with every frame's variables and the POST: no password."""
    settings.DEBUG = debug
    AppPasswordSession.objects.create(account_key=f"member:{ann.pk}", identifier="ann.test")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE bluesky_apppasswordsession SET access_jwt = 'gAAAAA-not-decryptable'")
    # Built at run time: the report also quotes this test's source lines, which must not count.
    password = "-".join(["abcd", "efgh", "ijkl", "mnop"])
    request = RequestFactory().post("/bluesky/app-password/add/",
                                    {"identifier": "ann.test", "app_password": password, "next": "/"})
    request.user = ann
    request.session = {}
    request._messages = None
    from bluesky.views import app_password_add

    try:
        app_password_add(request)
    except Exception:  # noqa: BLE001 - the report of exactly this failure is what is checked
        report = ExceptionReporter(request, *sys.exc_info())
        text = report.get_traceback_text() + report.get_traceback_html()
    else:
        pytest.fail("the corrupt stored secret should have failed the request")
    assert "decrypt" in text.lower() or "SecretDecryptionError" in text
    assert password not in text


@pytest.mark.django_db
def test_relay_password_in_the_admin_form_is_a_sensitive_parameter():
    client = Client()
    staff = Member.objects.create_superuser(username="staff", email="s@x.org", password="pw-long-enough-123")
    client.force_login(staff)
    client.get("/admin/bluesky/relayaccount/")
    response = client.post("/admin/bluesky/relayaccount/1/change/",
                           {"identifier": "relay.test", "new_app_password": "wxyz-wxyz-wxyz-wxyz"})
    assert response.status_code == 302
    request = response.wsgi_request  # Django's decorator marks the request the error report would use
    assert "new_app_password" in getattr(request, "sensitive_post_parameters", ())


@pytest.mark.django_db
def test_invitation_creation_is_rate_limited(settings):
    from tests.invitations.conftest import make_event, make_member, random_did

    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "invitations": (2, 3600)}
    host = make_member("host")
    event = make_event(host=host)
    client = Client()
    client.force_login(host)
    url = f"/api/invitations/event/{event.pk}/"
    statuses = []
    for _ in range(3):
        # Not connected to Bluesky: each attempt is refused by the graph check after the limit check.
        statuses.append(client.post(url, {"dids": [random_did()]}, content_type="application/json"))
    assert [r.status_code for r in statuses[:2]] != [429, 429]
    assert statuses[2].status_code == 429 and int(statuses[2]["Retry-After"]) > 0


@pytest.mark.django_db(transaction=True)
def test_a_refresh_whose_store_fails_revokes_what_the_server_just_issued(ann):
    # Issue 24: the database refuses the write (a real trigger, as a full disk or a lost primary
    # would): the tokens the server just issued must not stay alive and unknown.
    network = FakeNetwork()
    identity = _identity(ann)
    table = BlueskyIdentity._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("CREATE FUNCTION h24_refuse() RETURNS trigger AS $$ BEGIN "
                           "RAISE EXCEPTION 'storage refused'; END $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER h24_refuse BEFORE UPDATE OF access_token ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION h24_refuse()")
        else:
            cursor.execute(f"CREATE TRIGGER h24_refuse BEFORE UPDATE OF access_token ON {table} "
                           "BEGIN SELECT RAISE(ABORT, 'storage refused'); END")
    try:
        with pytest.raises(DatabaseError):
            OAuthPdsSession(identity, oauth_client=_client(network.handle)).refresh(force=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TRIGGER h24_refuse{' ON ' + table if connection.vendor == 'postgresql' else ''}")
            if connection.vendor == "postgresql":
                cursor.execute("DROP FUNCTION h24_refuse()")
    assert network.revoked == ["rt-1"]  # the refresh token issued a moment ago is dead
    identity.refresh_from_db()
    assert identity.renew_lease == ""  # and the next caller need not wait for the lease


@pytest.mark.django_db(transaction=True)
def test_a_refresh_whose_connection_closes_before_the_store_revokes_and_frees_the_lease(ann):
    # Issue 34: the database connection dies while the server is refreshing (Django raises
    # InterfaceError for a closed connection, which is not a DatabaseError): the new tokens must
    # still be revoked and the lease freed.
    if connection.vendor != "postgresql":
        pytest.skip("closing SQLite's in-memory test database would drop it")
    network = FakeNetwork()

    def handler(request: httpx.Request) -> httpx.Response:
        response = network.handle(request)
        if request.url.path.endswith("/token"):
            connection.connection.close()  # the connection under Django, closed by the "server"
        return response

    identity = _identity(ann)
    from django.db import Error

    with pytest.raises(Error):
        OAuthPdsSession(identity, oauth_client=_client(handler)).refresh(force=True)
    assert network.revoked == ["rt-1"]
    identity.refresh_from_db()
    assert identity.renew_lease == ""
