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
from bluesky.atproto.http import SafeHttpClient, origin_of, parse_json_object
from bluesky.atproto.identity import (
    INVALID_HANDLE,
    IdentityResolver,
    ResolvedIdentity,
    handles_in,
    normalize_handle,
    pds_endpoint,
)
from bluesky.atproto.keys import CLIENT_ASSERTION_TYPE, ClientKeyset
from bluesky.atproto.metadata import METADATA_KEEP, AuthServerMetadata, MetadataResolver, resource_listed
from bluesky.atproto.syntax import is_account_did

PAR_STATE_BYTES = 32  # 256 random bits; the spec asks for at least 128
# A refresh re-checks DID document -> PDS -> issuer before the refresh token leaves. The document
# is always fetched (see _recheck_issuer); the PDS -> issuer link and the token endpoint may be up
# to METADATA_KEEP old. A typical refresh is then two requests: one DID document and the token POST.


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    redirect_uri: str
    scope: str
    keyset: ClientKeyset | None = None  # None: public loopback client (auth method "none")

    @property
    def is_confidential(self) -> bool:
        return self.keyset is not None

    @property
    def auth_method(self) -> str:
        """`token_endpoint_auth_method` this client uses; a session works only with the same one."""
        return "private_key_jwt" if self.keyset is not None else "none"


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
    # The authorization server's endpoints as validated at start: the callback compares the issuer
    # string instead of fetching its metadata again (a payload without them is refused).
    token_endpoint: str | None = None
    revocation_endpoint: str | None = None
    protected_resources: list[str] | None = None

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


@dataclass(frozen=True)
class _Endpoints:
    """What the token calls need from an authorization server's (already validated) metadata."""

    issuer: str
    token_endpoint: str
    revocation_endpoint: str | None
    protected_resources: tuple[str, ...] | list[str] | None

    @classmethod
    def of(cls, server: AuthServerMetadata) -> _Endpoints:
        return cls(server.issuer, server.token_endpoint, server.revocation_endpoint, server.protected_resources)


class OAuthClient:
    def __init__(self, config: ClientConfig, *, http: SafeHttpClient, resolver: IdentityResolver,
                 metadata: MetadataResolver | None = None, nonce_store: DpopNonceStore | None = None) -> None:
        self.config = config
        self.http = http
        self.resolver = resolver
        self.metadata = metadata or MetadataResolver(http=http)
        # Auth-server nonces are shared by every flow of this process: one origin, one nonce.
        self.nonces = nonce_store or DpopNonceStore()

    @property
    def auth_method(self) -> str:
        return self.config.auth_method

    # --- client authentication -------------------------------------------------------------
    def _client_auth(self, issuer: str, kid: str | None) -> dict[str, str]:
        params = {"client_id": self.config.client_id}
        if self.config.keyset is not None:
            # Raises ClientKeyMissingError when the session's key is gone: never another key.
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
    def start_authorization(self, login_input: str, *, scope: str | None = None) -> PendingAuthorization:
        """Resolve the input, push the authorization request, and return where to send the browser.

        `login_input` is a handle, a DID, or a PDS/entryway URL ("log in with bsky.social").
        `scope`: ask for less than the client's configured scope (e.g. only `atproto` to prove an
        account and nothing more); it must include `atproto` and stay within the configured scope,
        which is all the client metadata declares.
        """
        if scope is not None:
            asked = scope.split()
            if "atproto" not in asked or not set(asked) <= set(self.config.scope.split()):
                raise OAuthFlowError("That permission cannot be requested.", code="scope_not_allowed")
        text = login_input.strip()
        expected_did = expected_handle = pds_url = None
        if text.startswith(("https://", "http://")):
            issuer, resource = self._issuer_for_server_url(text)
            login_hint = None
        else:
            identity = self.resolver.resolve(text if text.startswith("did:") else normalize_handle(text))
            expected_did, pds_url = identity.did, identity.pds_url
            expected_handle = identity.handle if identity.handle_verified else None
            issuer, resource = self.metadata.authorization_server_for(pds_url), pds_url
            login_hint = expected_handle or expected_did
        server = self.metadata.authorization_server(issuer)
        if resource is not None and not server.serves(resource):
            raise MetadataError("That server's sign-in does not cover the account's server.",
                                code="resource_not_listed")
        state = secrets.token_urlsafe(PAR_STATE_BYTES)
        verifier, challenge = pkce_pair()
        dpop_key = DpopKey.generate()
        kid = self._bound_kid(None)
        form = {
            "response_type": "code",
            "redirect_uri": self.config.redirect_uri,
            "scope": scope if scope is not None else self.config.scope,
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
            pds_url=pds_url, client_kid=kid, token_endpoint=server.token_endpoint,
            revocation_endpoint=server.revocation_endpoint,
            protected_resources=list(server.protected_resources) if server.protected_resources is not None else None,
        )

    def _issuer_for_server_url(self, url: str) -> tuple[str, str | None]:
        """A PDS URL leads to its authorization server (and is a resource it must serve); an entryway
        URL is an authorization server itself."""
        try:
            return self.metadata.authorization_server_for(url), url
        except MetadataError:
            return self.metadata.authorization_server(url.rstrip("/")).issuer, None

    # --- callback ----------------------------------------------------------------------------
    def complete_authorization(self, pending: PendingAuthorization, *, code: str, iss: str | None) -> TokenSet:
        """Exchange the code, then prove the issuer really speaks for the account it names.

        Three requests: the token POST, the account's DID document and its PDS's resource metadata
        (both fresh). The authorization server's metadata was validated at start; it is only
        compared by issuer here."""
        if not iss or iss != pending.issuer:
            raise OAuthFlowError("The sign-in answer came from the wrong server.", code="issuer_mismatch")
        if not code:
            raise OAuthFlowError("The sign-in answer was incomplete.", code="missing_code")
        if not pending.token_endpoint:
            # Only a sign-in started before the endpoints were kept (minutes-long, long gone): start again.
            raise OAuthFlowError("This sign-in is no longer valid. Please start again.", code="state_unknown")
        endpoints = _Endpoints(pending.issuer, pending.token_endpoint, pending.revocation_endpoint,
                               pending.protected_resources)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": pending.code_verifier,
            "redirect_uri": self.config.redirect_uri,
            **self._client_auth(endpoints.issuer, pending.client_kid),
        }
        try:
            answer = self._post(endpoints.token_endpoint, form, pending.dpop_key)
        except OAuthTokenError as exc:
            raise OAuthFlowError("Your Bluesky server refused to finish the sign-in.", code="token_refused",
                                 error=exc.error) from exc
        try:
            tokens = self._token_set(answer, endpoints.issuer, client_kid=pending.client_kid, pds_url="", handle="")
            identity = self._verify_issuer(tokens.sub, endpoints, expected_handle=pending.expected_handle)
            if pending.expected_did and tokens.sub != pending.expected_did:
                raise OAuthFlowError("You signed in as a different account than the one you asked for.",
                                     code="sub_mismatch")
        except AtprotoError:
            # Never keep a token we cannot trust; the server should forget it too.
            self._revoke_issued_quietly(answer, pending.dpop_key, endpoints, pending.client_kid)
            raise
        tokens.pds_url, tokens.handle = identity.pds_url, identity.handle
        return tokens

    def _verify_issuer(self, sub: str, endpoints: _Endpoints, *, expected_handle: str | None) -> ResolvedIdentity:
        """Uncached: sub -> DID document -> PDS -> protected-resource metadata must name the issuer."""
        try:
            document = self.resolver.resolve_did(sub, fresh=True)
            pds_url = pds_endpoint(document, sub)
            named = self.metadata.authorization_server_for(pds_url, fresh=True)
        except (IdentityResolutionError, MetadataError) as exc:
            raise OAuthFlowError("The account's server could not be confirmed.", code="issuer_unverified") from exc
        if named != endpoints.issuer or not resource_listed(endpoints.protected_resources, pds_url):
            raise OAuthFlowError("That server is not allowed to sign in this account.", code="issuer_mismatch")
        return self._identity(sub, document, pds_url, expected_handle)

    def _identity(self, did: str, document: dict[str, Any], pds_url: str,
                  expected_handle: str | None) -> ResolvedIdentity:
        """The handle shown for the account. Display only (the account is the DID), so the handle's
        own resolution may come from the cache: the one checked at start when it is still listed."""
        listed = handles_in(document)
        if expected_handle and expected_handle in listed:
            return ResolvedIdentity(did, expected_handle, pds_url, True, document)
        for candidate in listed[:1]:
            try:
                if self.resolver.resolve_handle(candidate) == did:
                    return ResolvedIdentity(did, candidate, pds_url, True, document)
            except IdentityResolutionError:
                pass
        return ResolvedIdentity(did, INVALID_HANDLE, pds_url, False, document)

    def _token_set(self, answer: dict[str, Any], issuer: str, *, client_kid: str | None,
                   pds_url: str, handle: str) -> TokenSet:
        access, sub, scope = answer.get("access_token"), answer.get("sub"), answer.get("scope")
        # RFC 9449 names the type "DPoP"; anything else is not the token this client asked for.
        if answer.get("token_type") != "DPoP":
            raise OAuthFlowError("The server issued the wrong kind of token.", code="token_type")
        if "id_token" in answer:
            # atproto OAuth is not OpenID Connect: an ID token means a server speaking another protocol.
            raise OAuthFlowError("The server answered with an identity token, which is not accepted.",
                                 code="id_token")
        if not isinstance(access, str) or not access:
            raise OAuthFlowError("The server issued no access token.", code="token_missing")
        if not isinstance(sub, str) or not is_account_did(sub, allow_localhost=self.resolver.allow_test_tld):
            raise OAuthFlowError("The server named no valid account.", code="sub_invalid")
        if not isinstance(scope, str) or "atproto" not in scope.split():
            raise OAuthFlowError("The server did not grant the atproto scope.", code="scope_missing")
        expires_in = answer.get("expires_in")
        expires_at = (datetime.now(UTC) + timedelta(seconds=int(expires_in))
                      if isinstance(expires_in, int | float) and expires_in > 0 else None)
        refresh = answer.get("refresh_token")
        return TokenSet(access_token=access, refresh_token=refresh if isinstance(refresh, str) else None,
                        scope=scope, sub=sub, issuer=issuer, pds_url=pds_url, handle=handle,
                        expires_at=expires_at, client_kid=client_kid)

    # --- refresh and revoke --------------------------------------------------------------------
    def refresh(self, tokens: TokenSet, *, dpop_key: DpopKey, verify_issuer: bool = True) -> TokenSet:
        """Rotate the tokens. Refresh tokens are single-use: callers must serialise refreshes.

        Before the refresh token leaves, the account is re-checked (DID document -> PDS -> its
        authorization server must still be `tokens.issuer`). Raises, without sending anything:
        - OAuthFlowError `issuer_changed`: the account moved to a server with another issuer
          (`.fields["pds_moved"]` says whether its PDS changed); the session must end;
        - OAuthFlowError `issuer_unverified`: the account could not be looked up now (transient);
        - ClientKeyMissingError: the session's client key is gone; the session must end.
        After sending: OAuthTokenError (`invalid_grant`: the session is gone), OAuthFlowError
        `refresh_sub_mismatch` (the server answered for another account; the session must end).
        A move to another PDS of the same issuer is followed: the result carries the new `pds_url`.
        """
        if not tokens.refresh_token:
            raise OAuthTokenError(error="invalid_grant", status=None)
        client_auth = self._client_auth(tokens.issuer, tokens.client_kid)
        if verify_issuer:
            pds_url, server = self._recheck_issuer(tokens)
        else:
            pds_url, server = tokens.pds_url, self.metadata.authorization_server(tokens.issuer, max_age=METADATA_KEEP)
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, **client_auth}
        answer = self._post(server.token_endpoint, form, dpop_key)
        fresh = self._token_set(answer, server.issuer, client_kid=tokens.client_kid, pds_url=pds_url,
                                handle=tokens.handle)
        if fresh.sub != tokens.sub:
            self._revoke_issued_quietly(answer, dpop_key, _Endpoints.of(server), tokens.client_kid)
            raise OAuthFlowError("The server switched accounts during refresh.", code="refresh_sub_mismatch")
        if fresh.refresh_token is None:
            fresh.refresh_token = tokens.refresh_token
        return fresh

    def _recheck_issuer(self, tokens: TokenSet) -> tuple[str, AuthServerMetadata]:
        """DID document (fetched now) -> PDS -> issuer, which must still be the session's, and must
        still serve that PDS. Returns the PDS and the issuer's metadata.

        The document is never taken from the cache: the refresh token is about to leave, and an
        account that moved a few seconds ago must not have it sent to its old server."""
        try:
            document = self.resolver.resolve_did(tokens.sub, fresh=True)
            pds_url = pds_endpoint(document, tokens.sub)
            named = self.metadata.authorization_server_for(pds_url, max_age=METADATA_KEEP)
            server = self.metadata.authorization_server(tokens.issuer, max_age=METADATA_KEEP)
        except (IdentityResolutionError, MetadataError) as exc:
            raise OAuthFlowError("The account's server could not be confirmed right now.",
                                 code="issuer_unverified") from exc
        if named != tokens.issuer or not server.serves(pds_url):
            raise OAuthFlowError("This Bluesky account moved to another server. Please connect it again.",
                                 code="issuer_changed", pds_moved=origin_of(pds_url) != origin_of(tokens.pds_url))
        return pds_url, server

    def revoke(self, tokens: TokenSet, *, dpop_key: DpopKey) -> None:
        """Revoke at the server (RFC 7009); the refresh token ends the whole session."""
        client_auth = self._client_auth(tokens.issuer, tokens.client_kid)
        server = self.metadata.authorization_server(tokens.issuer, max_age=METADATA_KEEP)
        self._revoke(tokens.refresh_token or tokens.access_token, dpop_key, server.revocation_endpoint, client_auth)

    def _revoke(self, token: str, dpop_key: DpopKey, endpoint: str | None, client_auth: dict[str, str]) -> None:
        if not endpoint:
            raise OAuthTokenError(error="revocation_unsupported")
        # Revoking the refresh token ends the whole session (its access tokens die with it).
        self._post(endpoint, {"token": token, **client_auth}, dpop_key, expect_body=False)

    def _revoke_issued_quietly(self, answer: dict[str, Any], dpop_key: DpopKey, endpoints: _Endpoints,
                               kid: str | None) -> None:
        """Best effort: revoke whatever a token answer we refuse handed out."""
        token = answer.get("refresh_token") or answer.get("access_token")
        if not isinstance(token, str) or not token:
            return
        try:
            self._revoke(token, dpop_key, endpoints.revocation_endpoint,
                         self._client_auth(endpoints.issuer, kid))
        except AtprotoError:
            pass
