"""Error tracking: the Sentry event of a failing connect leaves with no secret in it.

The connect is real: Elonara (as a confidential client) asks a local authorization server to start
a sign-in; the server serves valid metadata, then refuses the pushed authorization request with a
500, after the PKCE verifier, the DPoP key and the client assertion exist. The request fails
unhandled, sentry-sdk's Django integration builds the event (request, headers, frames with their
local variables, breadcrumbs, extra), and a capturing transport keeps the exact envelope that
would have been sent.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
import sentry_sdk
from django.http import HttpResponseRedirect
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from sentry_sdk.transport import Transport

from bluesky import clients, services
from config.sentry import FILTERED, scrub, scrub_text, sentry_init
from members.models import Member

JWT = ("eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJkaWQ6cGxjOmFsaWNlIiwic2NvcGUiOiJhdHByb3RvIn0."
       "c2lnbmF0dXJlLW9mLXRoZS1hY2Nlc3MtdG9rZW4")
REFRESH = "ref-4f2a9c1e8b7d6a5f4e3d2c1b0a998877"
CODE = "cod-0123456789abcdef0123456789abcdef"
VERIFIER_IN_QUERY = "pkce-verifier-sent-by-someone-Z0rXqYw3Vb8Nn2"
APP_PASSWORD = "abcd-efgh-ijkl-mnop"
PASSWORD = "correct horse battery staple"
SESSION = "sessionid-value-2b7e151628aed2a6abf71588"


@csrf_exempt
def connect_unguarded(request):
    """The connect view's work without its error handling: an unexpected failure reaches Sentry."""
    member = Member.objects.get(username="ann")
    # Context some code might add on the way (a careless extra, a log line quoting a token).
    sentry_sdk.set_extra("bluesky_session", {"accessJwt": JWT, "refreshJwt": REFRESH, "note": f"got {JWT}"})
    logging.getLogger("elonara.test").warning("token endpoint said %s and %s", JWT, REFRESH)
    url = services.BlueskyOAuthService.start(member=member, login_input=request.POST["identifier"],
                                             browser_secret="browser-secret")
    return HttpResponseRedirect(url)


urlpatterns = [path("connect-unguarded/", connect_unguarded)]


class _AuthServer(BaseHTTPRequestHandler):
    """Valid authorization-server metadata; PAR refused with a 500 after reading the request."""

    seen: list[dict[str, Any]] = []

    def log_message(self, *args):
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        origin = f"http://127.0.0.1:{self.server.server_port}"
        if self.path == "/.well-known/oauth-authorization-server":
            self._json(200, {
                "issuer": origin,
                "authorization_endpoint": f"{origin}/oauth/authorize",
                "token_endpoint": f"{origin}/oauth/token",
                "pushed_authorization_request_endpoint": f"{origin}/oauth/par",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["none", "private_key_jwt"],
                "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
                "dpop_signing_alg_values_supported": ["ES256"],
                "scopes_supported": ["atproto", "transition:generic"],
                "authorization_response_iss_parameter_supported": True,
                "require_pushed_authorization_requests": True,
                "client_id_metadata_document_supported": True,
            })
        else:
            self._json(404, {"error": "not_found"})

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        type(self).seen.append({"form": form, "dpop": self.headers.get("DPoP", "")})
        self._json(500, {"error": "server_error", "error_description": "the server fell over"})


class CapturingTransport(Transport):
    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes: list[bytes] = []

    def capture_envelope(self, envelope):
        self.envelopes.append(envelope.serialize())


@pytest.fixture
def auth_server():
    _AuthServer.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AuthServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def sentry_capture():
    transport = CapturingTransport()
    sentry_init(dsn="https://public@sentry.invalid/1", environment="test", transport=transport)
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.init()  # off again for the rest of the run


def _events(transport: CapturingTransport) -> list[dict]:
    events = []
    for raw in transport.envelopes:
        lines = raw.split(b"\n")
        for header, body in zip(lines[1::2], lines[2::2], strict=False):
            if json.loads(header).get("type") == "event":
                events.append(json.loads(body))
    return events


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _jwks_with_private_parts(value: Any):
    if isinstance(value, dict):
        if "kty" in value and value.get("d") not in (None, FILTERED):
            yield value
        for v in value.values():
            yield from _jwks_with_private_parts(v)
    elif isinstance(value, list):
        for v in value:
            yield from _jwks_with_private_parts(v)


def _s256(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()


@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True)
def test_sentry_event_of_a_failing_connect_contains_no_secret(settings, live_server, auth_server, sentry_capture):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ELONARA_PUBLIC_URL = "https://elonara.example.org"  # confidential: signs client assertions
    clients.reset()
    try:
        Member.objects.create_user(username="ann", password=PASSWORD)
        # Through a real WSGI server (the test client skips the WSGI layer Sentry reads requests from).
        response = httpx.post(
            f"{live_server.url}/connect-unguarded/?code={CODE}&code_verifier={VERIFIER_IN_QUERY}",
            data={"identifier": auth_server, "app_password": APP_PASSWORD, "password": PASSWORD},
            headers={"Authorization": f"DPoP {JWT}", "DPoP": JWT, "Cookie": f"sessionid={SESSION}"},
            timeout=30,
        )
        sentry_sdk.flush()
    finally:
        clients.reset()
    assert response.status_code == 500

    # The sign-in really reached the pushed authorization request with its secrets.
    assert len(_AuthServer.seen) == 1
    par = _AuthServer.seen[0]
    client_assertion, dpop_proof, challenge = par["form"]["client_assertion"], par["dpop"], par["form"][
        "code_challenge"]
    assert client_assertion.count(".") == 2 and dpop_proof.count(".") == 2

    events = _events(sentry_capture)
    assert len(events) == 1, "the failing request should produce exactly one event"
    event = events[0]
    payload = b"".join(sentry_capture.envelopes).decode()

    # It is a useful event: the connect's error, its frames with local variables, the request.
    exceptions = event["exception"]["values"]
    assert [e["type"] for e in exceptions] == ["OAuthTokenError", "OAuthFlowError"]
    frames = [f for e in exceptions for f in e["stacktrace"]["frames"]]
    # Frame variables are kept (they are what makes an event useful), with the secret ones replaced.
    secret_vars = [f["vars"][name] for f in frames for name in ("verifier", "dpop_key", "code_verifier")
                   if name in f.get("vars", {})]
    assert secret_vars and set(secret_vars) == {FILTERED}
    post = next(f for f in frames if f["function"] == "_post")
    assert post["vars"]["form"]["client_assertion"] == FILTERED
    assert event["request"]["url"].endswith("/connect-unguarded/")
    assert event["request"]["data"]["app_password"] == FILTERED and event["request"]["headers"]["Dpop"] == FILTERED
    assert event["extra"]["bluesky_session"] == {"accessJwt": FILTERED, "refreshJwt": FILTERED,
                                                 "note": f"got {FILTERED}"}
    assert any(FILTERED in json.dumps(c) and "token endpoint said" in json.dumps(c)
               for c in event["breadcrumbs"]["values"])

    # No secret anywhere in what would leave: sent by us, by the member, or made during the flow.
    for secret in (JWT, REFRESH, CODE, VERIFIER_IN_QUERY, APP_PASSWORD, PASSWORD, SESSION, client_assertion,
                   dpop_proof, client_assertion.split(".")[2], dpop_proof.split(".")[2]):
        assert secret not in payload, secret
    # The PKCE verifier itself never went anywhere but its hash did: no string in the event hashes to it.
    assert all(_s256(s) != challenge for s in _strings(event))
    # No private JWK (DPoP key, client signing key) with its private part.
    assert list(_jwks_with_private_parts(event)) == []
    # No personal data by default.
    assert "ann" not in json.dumps(event.get("user", {}))
    assert not event["request"].get("cookies") or set(event["request"]["cookies"].values()) <= {FILTERED}


def test_scrubber_by_key_and_by_pattern():
    data = {
        "Authorization": f"Bearer {JWT}", "DPoP": JWT, "headers": [["Cookie", "sessionid=abc"], ["Accept", "*/*"]],
        "nested": {"refresh_token": "opaque", "accessJwt": "x", "code_verifier": "v", "app_password": "p",
                   "dpop_private_jwk": '{"kty":"EC","d":"secret"}', "private_key": "k", "client_assertion": "a",
                   "FEEDS_PUBLISHER_APP_PASSWORD": "feeds-secret"},
        "jwk": {"kty": "EC", "crv": "P-256", "x": "pub-x", "y": "pub-y", "d": "private-d"},
        "url": f"https://elonara.example/bluesky/callback/?state=s&code={CODE}&iss=https%3A%2F%2Fpds",
        "text": f'stored {{"kty": "EC", "d": "abcDEF123_-"}} and {APP_PASSWORD}',
        "kept": "a plain message", "count": 3,
    }
    out = scrub(data)
    assert out["Authorization"] == FILTERED and out["DPoP"] == FILTERED
    assert out["headers"] == [["Cookie", FILTERED], ["Accept", "*/*"]]
    assert set(out["nested"].values()) == {FILTERED}
    assert out["jwk"]["d"] == FILTERED and out["jwk"]["x"] == "pub-x"
    assert CODE not in out["url"] and "state=s" in out["url"]
    assert "abcDEF123_-" not in out["text"] and APP_PASSWORD not in out["text"]
    assert out["kept"] == "a plain message" and out["count"] == 3
    assert scrub_text(f"upstream: {JWT}") == f"upstream: {FILTERED}"


@pytest.mark.django_db(transaction=True)
def test_a_failing_api_token_exchange_sends_no_api_secret(client, sentry_capture):
    # Issue 24: the exchange's body and the frames' variables hold the elo_ secret. A real fault:
    # the token table is gone (a botched migration), so the exchange fails with a 500.
    from django.db import connection

    from members import api_tokens
    from members.models import ApiToken

    member = Member.objects.create_user(username="ann", password="pw-long-enough-123")
    secret = api_tokens.api_token_create(member=member, name="script", permissions=["read"]).secret
    table = ApiToken._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {table} RENAME TO h24_gone")
    try:
        client.raise_request_exception = False
        response = client.post("/api/auth/token/", {"api_token": secret}, content_type="application/json")
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE h24_gone RENAME TO {table}")
    assert response.status_code == 500
    sentry_sdk.flush()
    events = _events(sentry_capture)
    assert events, "the failure reached Sentry"
    assert secret.removeprefix("elo_") not in json.dumps(events)


def test_log_lines_and_events_lose_api_secrets_and_feed_tokens(capsys):
    secret = "elo_" + "A1b2C3d4" * 5 + "xyz"
    feed = "/calendar/feed/kJ3n_9sdf8-Qw2LmZx7YtR5uVp.ics"
    assert secret not in scrub_text(f"exchange with {secret} failed")
    assert "kJ3n_9sdf8-Qw2LmZx7YtR5uVp" not in scrub_text(f"GET {feed} 200")
    assert scrub({"api_token": secret, "browser_secret": "b" * 43})["api_token"] == FILTERED
    from config.observability import ScrubSecrets

    record = logging.LogRecord("x", logging.WARNING, __file__, 1, "token %s at %s", (secret, feed), None)
    assert ScrubSecrets().filter(record) and secret not in record.getMessage()
    assert "kJ3n_9sdf8" not in record.getMessage()


def test_links_sent_by_mail_are_scrubbed_from_urls_and_log_lines():
    from config.sentry import scrub_text
    from core.log_filters import redact_feed_tokens
    from notifications.tokens import confirmation_token, unsubscribe_token

    reset = "/members/password-reset/MQ/cz7x1q-5f1e0a9b8c7d6e5f4a3b/"
    confirm = f"/notifications/confirm/{confirmation_token(member_id=1, email='a@example.org')}/"
    unsubscribe = f"/notifications/unsubscribe/{unsubscribe_token(member_id=1, topic='reminders')}/"
    for url, secret in ((reset, "cz7x1q-5f1e0a9b8c7d6e5f4a3b"), (confirm, confirm.split("/")[3]),
                        (unsubscribe, unsubscribe.split("/")[3])):
        line = f'"GET {url} HTTP/1.1" 200'
        assert secret not in scrub_text(line) and secret not in redact_feed_tokens(line)
    # The page a reset link leads to carries no secret: left readable.
    assert redact_feed_tokens("/members/password-reset/MQ/set-password/") == "/members/password-reset/MQ/set-password/"
