"""The AT Protocol OAuth flow: PAR + PKCE + DPoP, token exchange with issuer verification,
refresh and revocation, for a confidential (`private_key_jwt`) or a public loopback client.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from bluesky.atproto.dpop import DpopAuth, DpopKey, DpopNonceStore
from bluesky.atproto.errors import (
    AtprotoError,
    IdentityResolutionError,
    MetadataError,
    OAuthFlowError,
    OAuthTokenError,
    TransportError,
)
from bluesky.atproto.http import SafeHttpClient, parse_json_object
from bluesky.atproto.identity import IdentityResolver, is_valid_did, normalize_handle
from bluesky.atproto.keys import CLIENT_ASSERTION_TYPE, ClientKeyset
from bluesky.atproto.metadata import AuthServerMetadata, MetadataResolver

PAR_STATE_BYTES = 32  # 256 random bits; the spec asks for at least 128


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    redirect_uri: str
    scope: str
    keyset: ClientKeyset | None = None  # None: public loopback client (auth method "none")

    @property
    def is_confidential(self) -> bool:
        return self.keyset is not None


@dataclass
class PendingAuthorization:
    """What must survive between start and callback. Secret fields: code_verifier, dpop_key."""

    state: str
    authorization_url: str
    code_verifier: str = field(repr=False)
    dpop_key: DpopKey = field(repr=False)
    issuer: str
    expected_did: str | None
    expected_handle: str | None
    pds_url: str | None
    client_kid: str | None
    created_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        data = {k: v for k, v in asdict(self).items() if k != "dpop_key"}
        data["dpop_key"] = self.dpop_key.private_jwk()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PendingAuthorization:
        values = dict(data)
        values["dpop_key"] = DpopKey.from_private_jwk(values["dpop_key"])
        return cls(**values)


@dataclass
class TokenSet:
    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    scope: str
    sub: str
    issuer: str
    pds_url: str
    handle: str
    expires_at: datetime | None
    client_kid: str | None = None

    def has_scope(self, *wanted: str) -> bool:
        granted = set(self.scope.split())
        return all(w in granted for w in wanted)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)  # 64 characters, within RFC 7636's 43..128
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def callback_error(params: dict[str, str]) -> OAuthFlowError | None:
    """An `error=` callback as a member-safe error (`access_denied` means the member said no)."""
    error = params.get("error")
    if not error:
        return None
    if error == "access_denied":
        return OAuthFlowError("You declined the request on your Bluesky server.", code="access_denied")
    safe = error if re.fullmatch(r"[a-z_]{1,64}", error) else "unknown"
    return OAuthFlowError(f"Your Bluesky server refused the sign-in ({safe}).", code="server_error",
                          error=safe)


class OAuthClient:
    def __init__(self, config: ClientConfig, *, http: SafeHttpClient, resolver: IdentityResolver,
                 metadata: MetadataResolver | None = None, nonce_store: DpopNonceStore | None = None) -> None:
        self.config = config
        self.http = http
        self.resolver = resolver
        self.metadata = metadata or MetadataResolver(http=http)
        # Auth-server nonces are shared by every flow of this process: one origin, one nonce.
        self.nonces = nonce_store or DpopNonceStore()

    # --- client authentication -------------------------------------------------------------
    def _client_auth(self, issuer: str, kid: str | None) -> dict[str, str]:
        params = {"client_id": self.config.client_id}
        if self.config.keyset is not None:
            key = self.config.keyset.get(kid)
            params["client_assertion_type"] = CLIENT_ASSERTION_TYPE
            params["client_assertion"] = key.client_assertion(client_id=self.config.client_id, audience=issuer)
        return params

    def _bound_kid(self, kid: str | None) -> str | None:
        if self.config.keyset is None:
            return None
        return self.config.keyset.get(kid).kid

    def _post(self, url: str, form: dict[str, str], dpop_key: DpopKey, *, expect_body: bool = True) -> dict[str, Any]:
        response = self.http.request("POST", url, data=form, auth=DpopAuth(dpop_key, self.nonces))
        if response.status_code in (200, 201):
            return parse_json_object(response) if expect_body else {}
        error, status = "", response.status_code
        try:
            body = parse_json_object(response)
            error = str(body.get("error", ""))[:64]
        except TransportError:
            pass
        raise OAuthTokenError(error=error or f"http_{status}", status=status)

    # --- start -------------------------------------------------------------------------------
    def start_authorization(self, login_input: str) -> PendingAuthorization:
        """Resolve the input, push the authorization request, and return where to send the browser.

        `login_input` is a handle, a DID, or a PDS/entryway URL ("log in with bsky.social").
        """
        text = login_input.strip()
        expected_did = expected_handle = pds_url = None
        if text.startswith(("https://", "http://")):
            issuer = self._issuer_for_server_url(text)
            login_hint = None
        else:
            identity = self.resolver.resolve(text if text.startswith("did:") else normalize_handle(text))
            expected_did, pds_url = identity.did, identity.pds_url
            expected_handle = identity.handle if identity.handle_verified else None
            issuer = self.metadata.authorization_server_for(pds_url)
            login_hint = expected_handle or expected_did
        server = self.metadata.authorization_server(issuer)
        state = secrets.token_urlsafe(PAR_STATE_BYTES)
        verifier, challenge = pkce_pair()
        dpop_key = DpopKey.generate()
        kid = self._bound_kid(None)
        form = {
            "response_type": "code",
            "redirect_uri": self.config.redirect_uri,
            "scope": self.config.scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **self._client_auth(server.issuer, kid),
        }
        if login_hint:
            form["login_hint"] = login_hint
        try:
            answer = self._post(server.pushed_authorization_request_endpoint, form, dpop_key)
        except OAuthTokenError as exc:
            raise OAuthFlowError("Your Bluesky server refused to start the sign-in.", code="par_refused",
                                 error=exc.error) from exc
        request_uri = answer.get("request_uri")
        if not isinstance(request_uri, str) or not request_uri:
            raise OAuthFlowError("Your Bluesky server gave an unusable answer.", code="par_invalid")
        query = urlencode({"client_id": self.config.client_id, "request_uri": request_uri})
        return PendingAuthorization(
            state=state, authorization_url=f"{server.authorization_endpoint}?{query}", code_verifier=verifier,
            dpop_key=dpop_key, issuer=server.issuer, expected_did=expected_did, expected_handle=expected_handle,
            pds_url=pds_url, client_kid=kid,
        )

    def _issuer_for_server_url(self, url: str) -> str:
        """A PDS URL leads to its authorization server; an entryway URL is one itself."""
        try:
            return self.metadata.authorization_server_for(url)
        except MetadataError:
            return self.metadata.authorization_server(url.rstrip("/")).issuer

    # --- callback ----------------------------------------------------------------------------
    def complete_authorization(self, pending: PendingAuthorization, *, code: str, iss: str | None) -> TokenSet:
        """Exchange the code, then prove the issuer really speaks for the account it names."""
        if not iss or iss != pending.issuer:
            raise OAuthFlowError("The sign-in answer came from the wrong server.", code="issuer_mismatch")
        if not code:
            raise OAuthFlowError("The sign-in answer was incomplete.", code="missing_code")
        server = self.metadata.authorization_server(pending.issuer)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": pending.code_verifier,
            "redirect_uri": self.config.redirect_uri,
            **self._client_auth(server.issuer, pending.client_kid),
        }
        try:
            answer = self._post(server.token_endpoint, form, pending.dpop_key)
        except OAuthTokenError as exc:
            raise OAuthFlowError("Your Bluesky server refused to finish the sign-in.", code="token_refused",
                                 error=exc.error) from exc
        tokens = self._token_set(answer, server, client_kid=pending.client_kid, pds_url="", handle="")
        try:
            identity = self._verify_issuer(tokens.sub, server.issuer)
            if pending.expected_did and tokens.sub != pending.expected_did:
                raise OAuthFlowError("You signed in as a different account than the one you asked for.",
                                     code="sub_mismatch")
        except AtprotoError:
            # Never keep a token we cannot trust; the server should forget it too.
            self._revoke_quietly(tokens, pending.dpop_key, server)
            raise
        tokens.pds_url, tokens.handle = identity.pds_url, identity.handle
        return tokens

    def _verify_issuer(self, sub: str, issuer: str):
        """Uncached: sub -> DID document -> PDS -> protected-resource metadata must name `issuer`."""
        try:
            identity = self.resolver.resolve(sub, fresh=True)
            named = self.metadata.authorization_server_for(identity.pds_url, fresh=True)
        except (IdentityResolutionError, MetadataError) as exc:
            raise OAuthFlowError("The account's server could not be confirmed.", code="issuer_unverified") from exc
        if named != issuer:
            raise OAuthFlowError("That server is not allowed to sign in this account.", code="issuer_mismatch")
        return identity

    def _token_set(self, answer: dict[str, Any], server: AuthServerMetadata, *, client_kid: str | None,
                   pds_url: str, handle: str) -> TokenSet:
        access, sub, scope = answer.get("access_token"), answer.get("sub"), answer.get("scope")
        if str(answer.get("token_type", "")).lower() != "dpop":
            raise OAuthFlowError("The server issued the wrong kind of token.", code="token_type")
        if not isinstance(access, str) or not access:
            raise OAuthFlowError("The server issued no access token.", code="token_missing")
        if not isinstance(sub, str) or not is_valid_did(sub):
            raise OAuthFlowError("The server named no valid account.", code="sub_invalid")
        if not isinstance(scope, str) or "atproto" not in scope.split():
            raise OAuthFlowError("The server did not grant the atproto scope.", code="scope_missing")
        expires_in = answer.get("expires_in")
        expires_at = (datetime.now(UTC) + timedelta(seconds=int(expires_in))
                      if isinstance(expires_in, int | float) and expires_in > 0 else None)
        refresh = answer.get("refresh_token")
        return TokenSet(access_token=access, refresh_token=refresh if isinstance(refresh, str) else None,
                        scope=scope, sub=sub, issuer=server.issuer, pds_url=pds_url, handle=handle,
                        expires_at=expires_at, client_kid=client_kid)

    # --- refresh and revoke --------------------------------------------------------------------
    def refresh(self, tokens: TokenSet, *, dpop_key: DpopKey) -> TokenSet:
        """Rotate the tokens. Refresh tokens are single-use: callers must serialise refreshes."""
        if not tokens.refresh_token:
            raise OAuthTokenError(error="invalid_grant", status=None)
        server = self.metadata.authorization_server(tokens.issuer)
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token,
                **self._client_auth(server.issuer, tokens.client_kid)}
        answer = self._post(server.token_endpoint, form, dpop_key)
        fresh = self._token_set(answer, server, client_kid=tokens.client_kid, pds_url=tokens.pds_url,
                                handle=tokens.handle)
        if fresh.sub != tokens.sub:
            raise OAuthFlowError("The server switched accounts during refresh.", code="sub_mismatch")
        if fresh.refresh_token is None:
            fresh.refresh_token = tokens.refresh_token
        return fresh

    def revoke(self, tokens: TokenSet, *, dpop_key: DpopKey) -> None:
        """Revoke at the server (RFC 7009); the refresh token ends the whole session."""
        server = self.metadata.authorization_server(tokens.issuer)
        self._revoke(tokens, dpop_key, server)

    def _revoke(self, tokens: TokenSet, dpop_key: DpopKey, server: AuthServerMetadata) -> None:
        if not server.revocation_endpoint:
            raise OAuthTokenError(error="revocation_unsupported")
        # Revoking the refresh token ends the whole session (its access tokens die with it).
        token = tokens.refresh_token or tokens.access_token
        form = {"token": token, **self._client_auth(server.issuer, tokens.client_kid)}
        self._post(server.revocation_endpoint, form, dpop_key, expect_body=False)

    def _revoke_quietly(self, tokens: TokenSet, dpop_key: DpopKey, server: AuthServerMetadata) -> None:
        try:
            self._revoke(tokens, dpop_key, server)
        except AtprotoError:
            pass
