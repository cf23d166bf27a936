"""Connecting a member's Bluesky account: start, callback, sessions that refresh safely, disconnect.

Refresh tokens are single-use and the official server kills a session whose refresh token is
replayed, so every refresh happens under a row lock held across processes (SELECT ... FOR UPDATE
on PostgreSQL; an IMMEDIATE transaction on SQLite), after re-reading the identity: a token another
worker already rotated is used, never refreshed again.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from bluesky import network
from bluesky.atproto import (
    AtprotoError,
    DpopKey,
    DpopNonceStore,
    InvalidTokenError,
    OAuthFlowError,
    OAuthTokenError,
    PdsClient,
    PendingAuthorization,
    TokenSet,
    callback_error,
)
from bluesky.models import BlueskyIdentity, OAuthAuthorizationRequest
from members.models import Member

logger = logging.getLogger(__name__)

REQUEST_LIFETIME = timedelta(minutes=10)
REFRESH_AHEAD_SECONDS = 60
REFRESH_JITTER_SECONDS = 30
MAX_LOGIN_INPUT = 512


class NotConnectedError(AtprotoError):
    code = "not_connected"
    default_message = "Connect your Bluesky account first."


class ReconnectionNeededError(AtprotoError):
    code = "needs_reconnection"
    default_message = "Your Bluesky connection has expired. Please reconnect."


def _tokens_of(identity: BlueskyIdentity) -> TokenSet:
    return TokenSet(access_token=identity.access_token, refresh_token=identity.refresh_token or None,
                    scope=identity.scope, sub=identity.did, issuer=identity.issuer, pds_url=identity.pds_url,
                    handle=identity.handle, expires_at=identity.expires_at, client_kid=identity.client_kid or None)


def _needs_refresh(identity: BlueskyIdentity) -> bool:
    if identity.expires_at is None:
        return False
    # Jitter spreads refreshes of many sessions (and many workers) instead of a thundering herd.
    ahead = REFRESH_AHEAD_SECONDS + random.uniform(0, REFRESH_JITTER_SECONDS)  # noqa: S311 - not security
    return identity.expires_at <= timezone.now() + timedelta(seconds=ahead)


def identity_refresh(*, identity_id: int, seen_access_token: str | None = None,
                     force: bool = False) -> BlueskyIdentity:
    """Refresh under the lock. `seen_access_token`: the token the caller found wanting; if the
    stored one differs, another process already rotated it and nothing is sent."""
    marked_dead = False
    with transaction.atomic():
        identity = BlueskyIdentity.objects.select_for_update().get(pk=identity_id)
        if identity.status != BlueskyIdentity.Status.CONNECTED:
            raise ReconnectionNeededError()
        if seen_access_token is not None and identity.access_token != seen_access_token:
            return identity
        if not force and seen_access_token is None and not _needs_refresh(identity):
            return identity
        nonces = DpopNonceStore.from_dict(identity.dpop_nonces)
        client = network.oauth_client()
        for origin, nonce in nonces.to_dict().items():
            # A fresh process starts with the nonce this identity last saw: saves a 400 round trip.
            if client.nonces.get(origin) is None:
                client.nonces.set(origin, nonce)
        try:
            tokens = client.refresh(_tokens_of(identity), dpop_key=DpopKey.from_private_jwk(identity.dpop_private_jwk))
        except OAuthTokenError as exc:
            if exc.error != "invalid_grant":
                raise
            identity.status = BlueskyIdentity.Status.NEEDS_RECONNECTION
            identity.save(update_fields=["status", "updated_at"])
            marked_dead = True
        else:
            identity.access_token = tokens.access_token
            identity.refresh_token = tokens.refresh_token or ""
            identity.scope = tokens.scope
            identity.expires_at = tokens.expires_at
            identity.refreshed_at = timezone.now()
            identity.dpop_nonces = {**nonces.to_dict(), **client.nonces.to_dict()}
            identity.save(update_fields=["access_token", "refresh_token", "scope", "expires_at", "refreshed_at",
                                         "dpop_nonces", "updated_at"])
    if marked_dead:
        logger.info("bluesky session ended by the server", extra={"identity_id": identity_id})
        raise ReconnectionNeededError()
    return identity


@dataclass
class BlueskySession:
    """A member's usable Bluesky session: DPoP calls on their PDS with refresh handled here.

    `get`/`post` return the parsed JSON body or raise `bluesky.atproto.XrpcError` (the agents and
    the graph service map those). A 401 invalid_token refreshes once and retries once.
    """

    identity_id: int
    did: str
    handle: str
    pds_url: str
    scope: str

    def has_scope(self, *wanted: str) -> bool:
        granted = set(self.scope.split())
        return all(w in granted for w in wanted)

    def get(self, nsid: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", nsid, params=params, headers=headers)

    def post(self, nsid: str, json: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("POST", nsid, json_body=json, headers=headers)

    def _call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        identity = BlueskyIdentity.objects.get(pk=self.identity_id)
        if identity.status != BlueskyIdentity.Status.CONNECTED:
            raise ReconnectionNeededError()
        if _needs_refresh(identity):
            identity = identity_refresh(identity_id=identity.pk)
        try:
            return self._send(identity, method, nsid, **kwargs)
        except InvalidTokenError:
            identity = identity_refresh(identity_id=identity.pk, seen_access_token=identity.access_token)
            try:
                return self._send(identity, method, nsid, **kwargs)
            except InvalidTokenError as exc:
                BlueskyIdentity.objects.filter(pk=identity.pk).update(
                    status=BlueskyIdentity.Status.NEEDS_RECONNECTION, updated_at=timezone.now())
                raise ReconnectionNeededError() from exc

    def _send(self, identity: BlueskyIdentity, method: str, nsid: str, *, params=None, json_body=None,
              headers=None) -> dict[str, Any]:
        nonces = DpopNonceStore.from_dict(identity.dpop_nonces)
        client = PdsClient(http=network.safe_http_client(), pds_url=identity.pds_url,
                           access_token=identity.access_token,
                           dpop_key=DpopKey.from_private_jwk(identity.dpop_private_jwk), nonce_store=nonces)
        try:
            if method == "GET":
                return client.get(nsid, params=params, headers=headers)
            return client.post(nsid, json=json_body, headers=headers)
        finally:
            if nonces.changed:
                # Only the nonce column: a concurrent refresh may be rewriting the tokens.
                BlueskyIdentity.objects.filter(pk=identity.pk).update(dpop_nonces=nonces.to_dict())


def _session_for(identity: BlueskyIdentity) -> BlueskySession:
    return BlueskySession(identity_id=identity.pk, did=identity.did, handle=identity.handle,
                          pds_url=identity.pds_url, scope=identity.scope)


class BlueskyOAuthService:
    """Connect, reauthorize and disconnect a member's Bluesky account; hand out usable sessions."""

    def start_authorization(self, member: Member, handle_or_did_or_url: str) -> str:
        """Push the authorization request and return the URL to send the member's browser to."""
        text = (handle_or_did_or_url or "").strip()
        if not text:
            raise OAuthFlowError("Enter your Bluesky handle, DID or server address.", code="empty_input")
        if len(text) > MAX_LOGIN_INPUT:
            raise OAuthFlowError("That is too long to be a handle, DID or server address.", code="invalid_input")
        pending = network.oauth_client().start_authorization(text)
        payload = pending.to_dict()
        OAuthAuthorizationRequest.objects.filter(member=member, expires_at__lt=timezone.now()).delete()
        OAuthAuthorizationRequest.objects.create(state=pending.state, member=member, issuer=pending.issuer,
                                                 payload=json.dumps(payload),
                                                 expires_at=timezone.now() + REQUEST_LIFETIME)
        return pending.authorization_url

    def reauthorize(self, member: Member) -> str:
        identity = BlueskyIdentity.objects.filter(member=member).first()
        if identity is None:
            raise NotConnectedError()
        return self.start_authorization(member, identity.did)

    def handle_callback(self, request: HttpRequest) -> BlueskyIdentity:
        """Finish a sign-in from the callback's query. Raises AtprotoError subclasses with
        member-safe messages; nothing stored changes unless everything checks out."""
        params = request.GET
        pending_row = self._consume_request(params.get("state", ""))
        if pending_row.member_id != request.user.pk:
            raise OAuthFlowError("This sign-in was started by someone else.", code="wrong_member")
        if pending_row.expires_at < timezone.now():
            raise OAuthFlowError("This sign-in took too long. Please start again.", code="state_expired")
        if error := callback_error(dict(params.items())):
            raise error
        pending = PendingAuthorization.from_dict(json.loads(pending_row.payload))
        client = network.oauth_client()
        tokens = client.complete_authorization(pending, code=params.get("code", ""), iss=params.get("iss"))
        try:
            return self._store(request.user, tokens, pending.dpop_key, client.nonces.to_dict())
        except OAuthFlowError:
            try:
                client.revoke(tokens, dpop_key=pending.dpop_key)
            except AtprotoError:
                logger.warning("could not revoke a refused session")
            raise

    @staticmethod
    def _consume_request(state: str) -> OAuthAuthorizationRequest:
        # Deleted before anything else happens, in its own transaction: single use even when the
        # rest of the callback fails.
        with transaction.atomic():
            row = OAuthAuthorizationRequest.objects.select_for_update().filter(state=state[:100]).first() \
                if state else None
            if row is None:
                raise OAuthFlowError("This sign-in link is unknown, expired or already used. Please start again.",
                                     code="state_unknown")
            OAuthAuthorizationRequest.objects.filter(pk=row.pk).delete()
        return row

    @transaction.atomic
    def _store(self, member: Member, tokens: TokenSet, dpop_key: DpopKey,
               nonces: dict[str, str]) -> BlueskyIdentity:
        other = BlueskyIdentity.objects.filter(did=tokens.sub).exclude(member=member).first()
        if other is not None:
            raise OAuthFlowError("That Bluesky account is already connected to another Elonara member.",
                                 code="did_taken")
        previous = BlueskyIdentity.objects.select_for_update().filter(member=member).first()
        old_session = (_tokens_of(previous), previous.dpop_private_jwk) if previous else None
        now = timezone.now()
        identity, _ = BlueskyIdentity.objects.update_or_create(member=member, defaults={
            "did": tokens.sub, "handle": tokens.handle, "pds_url": tokens.pds_url, "issuer": tokens.issuer,
            "scope": tokens.scope, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token or "",
            "dpop_private_jwk": dpop_key.private_jwk_json(), "dpop_nonces": nonces, "expires_at": tokens.expires_at,
            "client_kid": tokens.client_kid or "", "status": BlueskyIdentity.Status.CONNECTED,
            "connected_at": now, "refreshed_at": None,
        })
        if old_session and old_session[0].refresh_token != tokens.refresh_token:
            transaction.on_commit(lambda: _revoke_quietly(*old_session))
        return identity

    def disconnect(self, member: Member) -> bool:
        """Revoke at the server, then delete tokens and key locally even if revocation failed."""
        identity = BlueskyIdentity.objects.filter(member=member).first()
        if identity is None:
            return False
        _revoke_quietly(_tokens_of(identity), identity.dpop_private_jwk)
        identity.delete()
        return True

    def get_identity_for_member(self, member: Member) -> BlueskySession | None:
        identity = BlueskyIdentity.objects.filter(member=member, status=BlueskyIdentity.Status.CONNECTED).first()
        return _session_for(identity) if identity else None

    def is_connected(self, member: Member) -> bool:
        return BlueskyIdentity.objects.filter(member=member, status=BlueskyIdentity.Status.CONNECTED).exists()


def _revoke_quietly(tokens: TokenSet, dpop_private_jwk: str) -> None:
    try:
        network.oauth_client().revoke(tokens, dpop_key=DpopKey.from_private_jwk(dpop_private_jwk))
    except AtprotoError as exc:
        logger.warning("bluesky revocation failed", extra={"code": exc.code})


def oauth_requests_cleanup() -> int:
    deleted, _ = OAuthAuthorizationRequest.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted
