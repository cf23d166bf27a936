"""Faults a real PDS cannot be made to produce (timeouts, 5xx, 429 with RateLimit-Reset, a server
that signs in another account), injected with httpx.MockTransport under the real client stack."""

import json
import threading
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from django.db import connection
from django.utils import timezone

from bluesky.agents.legacy import LegacyBlueskyAgent
from bluesky.errors import Reason
from bluesky.models import AppPasswordSession
from bluesky.sessions import relay_credentials_get
from tests.bluesky.agents.conftest import http_client_with_transport, resolver_with_http

pytestmark = pytest.mark.django_db

PDS = "http://pds.fault.test"
PLC = "http://plc.fault.test"
DID = "did:plc:ewvi7nxzyoun6zhxrhs64oiz"
OTHER_DID = "did:plc:z72i7hdynmk6r22z27h6tvur"
HANDLE = "relay.fault.test"
RECORD = {"$type": "app.bsky.feed.post", "text": "hello", "createdAt": "2026-11-22T23:00:00.000Z"}


@pytest.fixture
def relay(settings):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.ATPROTO_HANDLE_RESOLVER_URL = PDS
    settings.ATPROTO_PLC_URL = PLC
    settings.BLUESKY_RELAY_IDENTIFIER = HANDLE
    settings.BLUESKY_RELAY_APP_PASSWORD = "abcd-efgh-ijkl-mnop"
    return relay_credentials_get()


@pytest.fixture
def member(django_user_model):
    return django_user_model.objects.create_user(username="m", password="pw-123456")


def stored_session(account, *, expires_in=timedelta(hours=1)):
    return AppPasswordSession.objects.create(
        account_key=account.account_key,
        identifier=account.identifier,
        credential_fingerprint=account.fingerprint,
        did=DID,
        handle=HANDLE,
        pds_url=PDS,
        access_jwt="access-1",
        refresh_jwt="refresh-1",
        access_expires_at=timezone.now() + expires_in,
        refresh_expires_at=timezone.now() + timedelta(days=60),
    )


class FakePds:
    """Answers like a PDS except for the faults each test scripts; records what it was asked."""

    def __init__(self, create_record=None, did_for_session=DID):
        self.calls = []
        self.create_record = create_record
        self.did_for_session = did_for_session
        self.records = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        nsid = request.url.path.removeprefix("/xrpc/")
        self.calls.append(nsid)
        if request.url.host == "plc.fault.test":
            return httpx.Response(
                200,
                json={
                    "id": DID,
                    "alsoKnownAs": [f"at://{HANDLE}"],
                    "service": [{"id": "#atproto_pds", "type": "AtprotoPersonalDataServer", "serviceEndpoint": PDS}],
                },
            )
        if nsid == "com.atproto.identity.resolveHandle":
            return httpx.Response(200, json={"did": DID})
        if nsid in ("com.atproto.server.createSession", "com.atproto.server.refreshSession"):
            return httpx.Response(
                200,
                json={
                    "did": self.did_for_session,
                    "handle": HANDLE,
                    "accessJwt": f"access-{len(self.calls)}",
                    "refreshJwt": f"refresh-{len(self.calls)}",
                },
            )
        if nsid == "com.atproto.repo.getRecord":
            rkey = request.url.params["rkey"]
            if rkey in self.records:
                return httpx.Response(200, json=self.records[rkey])
            return httpx.Response(400, json={"error": "RecordNotFound", "message": "Could not locate record"})
        if nsid == "com.atproto.repo.createRecord":
            return self.create_record(request)
        return httpx.Response(404, json={"error": "MethodNotImplemented"})


def agent_for(handler):
    http = http_client_with_transport(httpx.MockTransport(handler))
    return LegacyBlueskyAgent(http=http, resolver=resolver_with_http(http))


def test_429_maps_to_rate_limited_with_reset(relay, member):
    stored_session(relay)
    reset = int((datetime.now(UTC) + timedelta(minutes=12)).timestamp())
    pds = FakePds(
        lambda r: httpx.Response(
            429,
            json={"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"},
            headers={"RateLimit-Limit": "5000", "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)},
        )
    )
    result = agent_for(pds).create_post_for_member(member, RECORD)
    assert (result.success, result.reason, result.retryable) == (False, Reason.RATE_LIMITED, True)
    assert result.retry_after == datetime.fromtimestamp(reset, UTC)
    assert pds.calls == ["com.atproto.repo.createRecord"]  # the stored session was used, no sign-in


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retryable(relay, member, status):
    stored_session(relay)
    pds = FakePds(lambda r: httpx.Response(status, json={"error": "InternalServerError"}))
    result = agent_for(pds).create_post_for_member(member, RECORD)
    assert (result.success, result.reason, result.retryable) == (False, Reason.SERVER_ERROR, True)


@pytest.mark.parametrize("exc", [httpx.ReadTimeout, httpx.ConnectTimeout, httpx.ConnectError])
def test_timeouts_and_connection_errors_are_retryable(relay, member, exc):
    stored_session(relay)

    def boom(request):
        raise exc("injected", request=request)

    result = agent_for(FakePds(boom)).create_post_for_member(member, RECORD)
    assert (result.success, result.reason, result.retryable) == (False, Reason.TRANSPORT, True)
    assert result.retry_after is None


def test_400_is_not_retryable(relay, member):
    stored_session(relay)
    pds = FakePds(
        lambda r: httpx.Response(
            400,
            json={
                "error": "InvalidRequest",
                "message": "Invalid app.bsky.feed.post record: Record/text must be a string",
            },
        )
    )
    result = agent_for(pds).create_post_for_member(member, RECORD)
    assert (result.success, result.reason, result.retryable) == (False, Reason.INVALID_RECORD, False)
    assert "Record/text" in result.error


def test_invalid_record_makes_no_request(relay, member):
    stored_session(relay)
    pds = FakePds(lambda r: httpx.Response(200, json={}))
    result = agent_for(pds).create_post_for_member(member, {**RECORD, "text": "x" * 301})
    assert (result.success, result.reason, result.retryable) == (False, Reason.INVALID_RECORD, False)
    assert result.payload["problems"][0]["field"] == "text"
    assert pds.calls == []


def test_timeout_after_a_committed_write_is_settled_by_reading_the_key(relay, member):
    stored_session(relay)
    rkey = "3kabcdefghijk"
    pds = FakePds()

    def commit_then_time_out(request):
        body = json.loads(request.content)
        uri = f"at://{DID}/app.bsky.feed.post/{body['rkey']}"
        pds.records[body["rkey"]] = {"uri": uri, "cid": "bafyfake", "value": body["record"]}
        raise httpx.ReadTimeout("injected after commit", request=request)

    pds.create_record = commit_then_time_out
    result = agent_for(pds).create_post_for_member(member, RECORD, rkey=rkey)
    assert result.success and result.already_existed
    assert result.uri == f"at://{DID}/app.bsky.feed.post/{rkey}" and result.cid == "bafyfake"


def test_rejected_token_is_refreshed_once_then_retried(relay, member):
    stored_session(relay)
    seen_tokens = []

    def create(request):
        seen_tokens.append(request.headers["authorization"])
        if request.headers["authorization"] == "Bearer access-1":
            return httpx.Response(400, json={"error": "ExpiredToken", "message": "Token has expired"})
        return httpx.Response(200, json={"uri": f"at://{DID}/app.bsky.feed.post/3kaaaaaaaaaaa", "cid": "bafy"})

    pds = FakePds(create)
    result = agent_for(pds).create_post_for_member(member, RECORD)
    assert result.success, result
    assert pds.calls == [
        "com.atproto.repo.createRecord",
        "com.atproto.server.refreshSession",
        "com.atproto.repo.createRecord",
    ]
    assert seen_tokens[0] == "Bearer access-1" and seen_tokens[1] != "Bearer access-1"
    assert AppPasswordSession.objects.get().refresh_count == 1


def test_session_for_another_did_is_refused(relay, member):
    # A PDS that signs us in as someone else than the DID document's account: never post with it.
    pds = FakePds(lambda r: httpx.Response(200, json={"uri": "at://x/y/z", "cid": "c"}), did_for_session=OTHER_DID)
    result = agent_for(pds).create_post_for_member(member, RECORD)
    assert (result.success, result.reason, result.retryable) == (False, Reason.IDENTITY_MISMATCH, False)
    assert "com.atproto.repo.createRecord" not in pds.calls
    assert not AppPasswordSession.objects.filter(did=OTHER_DID).exists()


def test_sign_in_rate_limited_is_retryable_with_reset(relay, member):
    reset = int((datetime.now(UTC) + timedelta(minutes=4)).timestamp())
    pds = FakePds()
    real = pds.__call__

    def handler(request):
        if request.url.path.endswith("createSession"):
            return httpx.Response(429, json={"error": "RateLimitExceeded"}, headers={"RateLimit-Reset": str(reset)})
        return real(request)

    result = agent_for(handler).create_post_for_member(member, RECORD)
    assert (result.reason, result.retryable) == (Reason.RATE_LIMITED, True)
    assert result.retry_after == datetime.fromtimestamp(reset, UTC)


def test_refresh_failing_transiently_does_not_spend_a_sign_in(relay, member):
    stored_session(relay, expires_in=timedelta(minutes=-5))
    pds = FakePds()
    real = pds.__call__

    def handler(request):
        if request.url.path.endswith("refreshSession"):
            return httpx.Response(503, json={"error": "Unavailable"})
        return real(request)

    result = agent_for(handler).create_post_for_member(member, RECORD)
    assert (result.reason, result.retryable) == (Reason.SERVER_ERROR, True)
    assert "com.atproto.server.createSession" not in pds.calls


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks need PostgreSQL (SQLite: one writer)")
def test_concurrent_workers_refresh_once(relay):
    stored_session(relay, expires_in=timedelta(minutes=-5))
    lock = threading.Lock()
    pds = FakePds()
    real = pds.__call__

    def handler(request):
        with lock:
            return real(request)

    views, errors = [], []

    def worker():
        try:
            views.append(agent_for(handler).session_for(relay).open())
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert pds.calls.count("com.atproto.server.refreshSession") == 1
    assert "com.atproto.server.createSession" not in pds.calls
    assert len({v.access_token for v in views}) == 1


def test_malformed_success_answer_is_a_failure(relay, member):
    stored_session(relay)
    pds = FakePds(lambda r: httpx.Response(200, text="<html>proxy login</html>"))
    result = agent_for(pds).create_post_for_member(member, RECORD)
    assert (result.success, result.reason, result.retryable) == (False, Reason.TRANSPORT, False)
    assert not result.uri
