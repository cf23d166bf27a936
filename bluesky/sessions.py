"""Sessions on an account's PDS: one seam (`PdsSession`), two kinds.

- `OAuthPdsSession`: a member's connected identity; DPoP-bound tokens, refreshed at the
  authorization server with `refresh_token` (single-use, so a replay kills the session).
- `AppPasswordPdsSession`: a member's own app password or the relay account; Bearer tokens from
  `createSession`, renewed with `refreshSession`, and created again only when refreshing fails
  (createSession is limited to 30 per 5 minutes and 300 a day per account).

Both renew through `refresh_under_lock`, so across every web process and worker a session is
renewed at most once: the row is locked and re-read, and a token another process already
renewed is used as it is. Both answer `get`/`post` with the parsed JSON body or raise the
protocol's errors (`XrpcError`, `TransportError`, ...) or `SessionEndedError`.
"""

from __future__ import annotations

import abc
import contextlib
import hashlib
import hmac
import logging
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import jwt
from django.conf import settings
from django.db import Error as DatabaseFailure
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bluesky import clients
from bluesky.atproto import (
    AtprotoError,
    DpopKey,
    DpopNonceStore,
    IdentityResolutionError,
    IdentityResolver,
    InvalidTokenError,
    OAuthClient,
    OAuthFlowError,
    OAuthTokenError,
    PdsClient,
    SafeHttpClient,
    TokenSet,
    TransportError,
    XrpcError,
)
from bluesky.atproto.http import origin_of
from bluesky.atproto.identity import normalize_identifier
from bluesky.atproto.xrpc import TOKEN_ERROR_NAMES
from bluesky.budget import create_session_guard
from bluesky.errors import AppPasswordSessionError, BlueskyError, Reason, SessionEndedError
from bluesky.models import AppPasswordSession, BlueskyIdentity, MemberAppPassword, RelayAccount, RenewalLease
from core import metrics
from core.ratelimit import RateLimitedError
from core.sql import STAND_IN_ID, FixedQuery

if TYPE_CHECKING:
    from core.users import Member

logger = logging.getLogger(__name__)

Row = TypeVar("Row", bound=RenewalLease)

# OAuth: refresh this long before expiry, plus jitter so many sessions (and workers) spread out.
REFRESH_AHEAD_SECONDS = 60
REFRESH_JITTER_SECONDS = 30
# App passwords: renew a little before the server would refuse the token.
EXPIRY_MARGIN = timedelta(seconds=60)
# App-password tokens whose expiry we cannot read are trusted this long (the PDS issues ~2 h tokens).
UNKNOWN_EXPIRY = timedelta(minutes=5)
# A renewal lease outlasts any request (their total deadline is far shorter); others wait this long.
LEASE = timedelta(seconds=60)
LEASE_WAIT_SECONDS = 30.0
# Refresh refusals after which the session can never be used again (see OAuthClient.refresh).
SESSION_ENDING_REFRESH_CODES = {"issuer_changed", "refresh_sub_mismatch", "client_key_missing"}
# Identity-resolution failures that say "try later" rather than "this account is wrong".
_TRANSIENT_IDENTITY_CODES = {"did_unreachable", "resolver_down"}


class RenewBusyError(BlueskyError):
    """Another process has been renewing this session for longer than we wait: try again later."""

    code = Reason.TRANSPORT
    default_message = _("The Bluesky session is being renewed; please try again in a moment.")


def refresh_under_lock(row: Row, *, still_needed: Callable[[Row], bool], renew: Callable[[Row], None],
                       fields: tuple[str, ...], abandon: Callable[[Row], None] | None = None) -> Row:
    """Renew a stored session at most once across every process; return the row as it is now.

    A renewal lease on the row (`renew_lease`, taken with a conditional UPDATE in a short
    transaction) makes one process the renewer; the others wait for it and then find the session
    already renewed (`still_needed` says so after a re-read), so one refresh goes on the wire.
    The network call itself runs outside any transaction: on SQLite a transaction holds the whole
    database's write lock, and a slow server chosen by a member must not hold that.

    `renew` changes `fields` of the row (it saves nothing); they are stored only if this process
    still holds the lease, which it does for longer than any request may last. If they cannot be
    stored (the row was deleted meanwhile: a disconnect), `abandon` gets the renewed row, so what
    the server just issued is revoked rather than left alive and unknown.
    """
    model = type(row)
    lease = secrets.token_hex(16)
    deadline = time.monotonic() + LEASE_WAIT_SECONDS
    while True:
        with transaction.atomic():
            current = model._default_manager.select_for_update().filter(pk=row.pk).first()
            if current is None:
                raise SessionEndedError(gettext("This Bluesky session was removed meanwhile."))
            if not still_needed(current):
                return current
            now = timezone.now()
            if current.renew_lease_until is None or current.renew_lease_until <= now:
                model._default_manager.filter(pk=row.pk).update(renew_lease=lease, renew_lease_until=now + LEASE)
                break
        if time.monotonic() > deadline:
            raise RenewBusyError(retryable=True)
        time.sleep(random.uniform(0.05, 0.15))  # spreading polls, not security
    release = {"renew_lease": "", "renew_lease_until": None}
    try:
        renew(current)
    except BaseException:
        model._default_manager.filter(pk=row.pk, renew_lease=lease).update(**release)
        raise
    values = {name: getattr(current, name) for name in fields}
    try:
        stored = model._default_manager.filter(pk=row.pk, renew_lease=lease).update(**values, **release,
                                                                           updated_at=timezone.now())
    except DatabaseFailure:
        # Any database failure (a refused write, and also a connection closed under us, which
        # Django raises as InterfaceError, outside DatabaseError): what the server just issued
        # would be lost, alive and unknown, so end it at the server; then free the lease.
        try:
            if abandon is not None:
                abandon(current)
        finally:
            _lease_release_after_failure(model, pk=row.pk, lease=lease)
        raise
    if not stored:
        if abandon is not None:
            abandon(current)
        if not model._default_manager.filter(pk=row.pk).exists():
            raise SessionEndedError(gettext("This Bluesky session was removed meanwhile."))
        # A renewal outlived its lease (it should not: requests end long before).
        logger.error("renewed session not stored: its lease had expired", extra={"row": row.pk})
        raise RenewBusyError(retryable=True)
    return current


def _lease_release_after_failure(model: type[RenewalLease], *, pk: int, lease: str) -> None:
    """Free a renewal lease after the store failed, so the next caller need not wait for it to
    expire. A connection left unusable is dropped first (outside a transaction Django then opens a
    new one); if the database is gone altogether, the lease simply expires."""
    if not connection.in_atomic_block and not connection.is_usable():
        connection.close()
    with contextlib.suppress(DatabaseFailure):
        model._default_manager.filter(pk=pk, renew_lease=lease).update(renew_lease="", renew_lease_until=None)


class PdsSession(abc.ABC):
    """A usable session on one account's PDS.

    Before a call the token is renewed if it is about to expire; when the PDS rejects it anyway,
    it is renewed once (unless another process already did) and the call retried once. A second
    rejection ends the session.
    """

    kind: str = ""
    row: Any

    def __init__(self, *, http: SafeHttpClient | None = None) -> None:
        self._http = http

    @property
    def http(self) -> SafeHttpClient:
        return self._http or clients.safe_http_client()

    @property
    def did(self) -> str:
        return self.row.did

    @property
    def handle(self) -> str:
        return self.row.handle

    @property
    def pds_url(self) -> str:
        return self.row.pds_url

    def get(self, nsid: str, params: dict[str, Any] | None = None,
            headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("GET", nsid, params=params, headers=headers)

    def post(self, nsid: str, json: Any = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._call("POST", nsid, json_body=json, headers=headers)

    def upload_blob(self, data: bytes, *, mime_type: str) -> dict[str, Any]:
        """com.atproto.repo.uploadBlob; returns the blob object a record refers to."""
        body = self._call("POST", "com.atproto.repo.uploadBlob", content=data, headers={"Content-Type": mime_type})
        blob = body.get("blob")
        if not isinstance(blob, dict) or blob.get("$type") != "blob":
            raise TransportError("The server did not return the uploaded blob.", code="blob_missing",
                                 retryable=False)
        return blob

    def _call(self, method: str, nsid: str, **request: Any) -> dict[str, Any]:
        self.row = self._reload()
        if not self._is_fresh(self.row):
            self._renew_if(lambda r: not self._is_fresh(r))
        rejected = self._access_token(self.row)
        try:
            return self._send(method, nsid, **request)
        except InvalidTokenError:
            pass
        self._renew_if(lambda r: self._access_token(r) == rejected or not self._usable(r))
        try:
            return self._send(method, nsid, **request)
        except InvalidTokenError as exc:
            self._end()
            raise SessionEndedError() from exc

    def _renew_if(self, still_needed: Callable[[Any], bool]) -> None:
        self.row = refresh_under_lock(self.row, still_needed=still_needed, renew=self._renew,
                                      fields=self.renew_fields, abandon=self._abandon)
        if not self._usable(self.row):
            raise SessionEndedError()

    # --- what each kind supplies ----------------------------------------------------------
    # The columns a renewal changes (stored together, only by the process holding the lease).
    renew_fields: tuple[str, ...] = ()

    @abc.abstractmethod
    def _reload(self) -> Any: ...

    @abc.abstractmethod
    def _is_fresh(self, row: Any) -> bool: ...

    @abc.abstractmethod
    def _usable(self, row: Any) -> bool: ...

    @abc.abstractmethod
    def _access_token(self, row: Any) -> str: ...

    @abc.abstractmethod
    def _renew(self, row: Any) -> None:
        """Called by the lease holder with the re-read row: renew it in memory (`renew_fields`)."""

    @abc.abstractmethod
    def _client(self) -> PdsClient:
        """A client carrying the current token (DPoP-bound or Bearer)."""

    def _send(self, method: str, nsid: str, *, params: dict[str, Any] | None = None, json_body: Any = None,
              content: bytes | None = None, headers: dict[str, str] | None = None) -> dict[str, Any]:
        return self._client().call(method, nsid, params=params, json_body=json_body, content=content,
                                    headers=headers)

    def _end(self) -> None:  # noqa: B027 - optional: an app-password session has nothing to mark
        """The PDS refused a freshly renewed token."""

    def _abandon(self, row: Any) -> None:  # noqa: B027 - optional
        """A renewed session could not be stored: end it at the server."""


# --- OAuth ----------------------------------------------------------------------------------

def tokens_of(identity: BlueskyIdentity) -> TokenSet:
    return TokenSet(access_token=identity.access_token, refresh_token=identity.refresh_token or None,
                    scope=identity.scope, sub=identity.did, issuer=identity.issuer, pds_url=identity.pds_url,
                    handle=identity.handle, expires_at=identity.expires_at, client_kid=identity.client_kid or None)


# A member's own sessions, asked on many pages (whose answers to hide): compiled once (core.sql).
_CONNECTED_IDENTITY = FixedQuery(lambda member_id: BlueskyIdentity.objects.filter(
    member_id=member_id, status=BlueskyIdentity.Status.CONNECTED).order_by("pk")[:1], member_id=STAND_IN_ID)
_OWN_APP_PASSWORD = FixedQuery(lambda member_id: MemberAppPassword.objects.filter(member_id=member_id)
                               .order_by("pk")[:1], member_id=STAND_IN_ID)


class OAuthPdsSession(PdsSession):
    """A member's connected Bluesky identity (DPoP calls on their own PDS)."""

    kind = "oauth"
    renew_fields = ("access_token", "refresh_token", "scope", "expires_at", "refreshed_at", "dpop_nonces", "status",
                    "pds_url")

    def __init__(self, identity: BlueskyIdentity, *, http: SafeHttpClient | None = None,
                 oauth_client: OAuthClient | None = None) -> None:
        super().__init__(http=http)
        self.row = identity
        # Default: the process-wide client (tests pass one over a fault-injecting transport).
        self._oauth_client = oauth_client

    @property
    def oauth_client(self) -> OAuthClient:
        return self._oauth_client or clients.oauth_client()

    @classmethod
    def for_member(cls, member: Any) -> OAuthPdsSession | None:
        identity = _CONNECTED_IDENTITY.first(member_id=member.pk)
        return cls(identity) if identity else None

    @property
    def scope(self) -> str:
        return self.row.scope

    def refresh(self, *, force: bool = False, seen_access_token: str | None = None) -> BlueskyIdentity:
        """Renew now if needed (`force`: always). `seen_access_token`: the token the caller found
        wanting; if the stored one differs, another process already renewed it."""
        def still_needed(identity: BlueskyIdentity) -> bool:
            if seen_access_token is not None:
                return identity.access_token == seen_access_token
            return force or not self._is_fresh(identity)

        self._renew_if(still_needed)
        return self.row

    def _reload(self) -> BlueskyIdentity:
        identity = BlueskyIdentity.objects.filter(pk=self.row.pk).first()
        if identity is None or identity.status != BlueskyIdentity.Status.CONNECTED:
            raise SessionEndedError()
        return identity

    def _is_fresh(self, identity: BlueskyIdentity) -> bool:
        if identity.expires_at is None:
            return True
        ahead = REFRESH_AHEAD_SECONDS + random.uniform(0, REFRESH_JITTER_SECONDS)  # not security
        return identity.expires_at > timezone.now() + timedelta(seconds=ahead)

    def _usable(self, identity: BlueskyIdentity) -> bool:
        return identity.status == BlueskyIdentity.Status.CONNECTED

    def _access_token(self, identity: BlueskyIdentity) -> str:
        return identity.access_token

    def _renew(self, identity: BlueskyIdentity) -> None:
        if identity.status != BlueskyIdentity.Status.CONNECTED:
            raise SessionEndedError()
        nonces = DpopNonceStore.from_dict(identity.dpop_nonces)
        client = self.oauth_client
        if identity.auth_method and identity.auth_method != client.auth_method:
            # The session was made by another kind of client (loopback vs. confidential): the server
            # would refuse it, so say so instead of sending the refresh token with the wrong auth.
            self._mark_ended(identity, reason="client_changed")
            return
        for origin, nonce in nonces.to_dict().items():
            # A fresh process starts with the nonce this identity last saw: saves a 400 round trip.
            if client.nonces.get(origin) is None:
                client.nonces.set(origin, nonce)
        try:
            tokens = client.refresh(tokens_of(identity), dpop_key=DpopKey.from_private_jwk(identity.dpop_private_jwk))
        except OAuthTokenError as exc:
            if exc.error != "invalid_grant":
                metrics.token_refresh("error")
                raise
            metrics.token_refresh("invalid_grant")
            self._mark_ended(identity, reason="refresh refused (invalid_grant)")
            return
        except OAuthFlowError as exc:
            # The account moved to another authorization server, the server answered for another
            # account, or the client key this session is bound to is gone: the old tokens must not be
            # sent again. `issuer_unverified` is a lookup that failed now: transient, keep the session.
            if exc.code not in SESSION_ENDING_REFRESH_CODES:
                metrics.token_refresh("error")
                raise
            metrics.token_refresh("session_ended")
            self._mark_ended(identity, reason=exc.code)
            return
        except AtprotoError:
            metrics.token_refresh("error")
            raise
        metrics.token_refresh("ok")
        identity.access_token = tokens.access_token
        identity.refresh_token = tokens.refresh_token or ""
        identity.pds_url = tokens.pds_url  # the account may have moved to another PDS of the same issuer
        identity.scope = tokens.scope
        identity.expires_at = tokens.expires_at
        identity.refreshed_at = timezone.now()
        # Only this identity's own servers' nonces (its PDS and its authorization server).
        mine = {origin_of(identity.pds_url), origin_of(identity.issuer)}
        seen = {**nonces.to_dict(), **client.nonces.to_dict()}
        identity.dpop_nonces = {origin: nonce for origin, nonce in seen.items() if origin in mine}

    def _client(self) -> PdsClient:
        identity = self.row
        return PdsClient(http=self.http, pds_url=identity.pds_url, access_token=identity.access_token,
                         dpop_key=DpopKey.from_private_jwk(identity.dpop_private_jwk),
                         nonce_store=DpopNonceStore.from_dict(identity.dpop_nonces))

    def _abandon(self, identity: BlueskyIdentity) -> None:
        try:
            self.oauth_client.revoke(tokens_of(identity),
                                     dpop_key=DpopKey.from_private_jwk(identity.dpop_private_jwk))
        except AtprotoError as exc:
            logger.warning("could not revoke a renewed session that was not stored", extra={"code": exc.code})

    @staticmethod
    def _mark_ended(identity: BlueskyIdentity, *, reason: str) -> None:
        identity.status = BlueskyIdentity.Status.NEEDS_RECONNECTION
        logger.info("bluesky session ended", extra={"identity_id": identity.pk, "reason": reason})

    def _send(self, method: str, nsid: str, **request: Any) -> dict[str, Any]:
        client = self._client()
        try:
            return client.call(method, nsid, **request)
        finally:
            if client.nonces.changed:
                # Only the nonce column: a concurrent refresh may be rewriting the tokens.
                BlueskyIdentity.objects.filter(pk=self.row.pk).update(dpop_nonces=client.nonces.to_dict())

    def _end(self) -> None:
        BlueskyIdentity.objects.filter(pk=self.row.pk).update(
            status=BlueskyIdentity.Status.NEEDS_RECONNECTION, updated_at=timezone.now())


def identity_refresh(*, identity_id: int, seen_access_token: str | None = None,
                     force: bool = False) -> BlueskyIdentity:
    """Refresh a member's OAuth session now (see `OAuthPdsSession.refresh`)."""
    identity = BlueskyIdentity.objects.get(pk=identity_id)
    return OAuthPdsSession(identity).refresh(force=force, seen_access_token=seen_access_token)


# --- App passwords --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AppPasswordAccount:
    """Credentials of one posting account. Never logged; `__repr__` hides the password.

    `account_key` names the account everywhere (session row, write budget): `member:<pk>` or
    `relay:<identifier>`."""

    account_key: str
    identifier: str
    app_password: str
    kind: str  # "member" or "relay"

    def __repr__(self) -> str:
        return f"AppPasswordAccount(account_key={self.account_key!r}, identifier={self.identifier!r})"

    @property
    def fingerprint(self) -> str:
        # HMAC, not a bare hash: the column must not let anyone test guesses of the password.
        msg = f"{self.identifier}\x00{self.app_password}".encode()
        return hmac.new(settings.SECRET_KEY.encode(), msg, hashlib.sha256).hexdigest()


def _token_expiry(token: str, *, now: datetime) -> datetime:
    # Reading our own session's expiry: the PDS signed it for itself, we cannot and need not verify.
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
        exp = claims.get("exp")
        if isinstance(exp, int | float):
            return datetime.fromtimestamp(exp, tz=UTC)
    except jwt.PyJWTError:
        pass
    return now + UNKNOWN_EXPIRY


def session_error(exc: XrpcError, *, doing: str) -> AppPasswordSessionError:
    """A createSession/refreshSession refusal in words a member or an admin can act on."""
    if exc.status == 429:
        return AppPasswordSessionError(gettext("Bluesky's rate limit was reached while trying to %(doing)s.")
                                       % {"doing": doing},
                                       code=Reason.RATE_LIMITED, retryable=True, retry_after=exc.retry_after)
    if exc.status >= 500:
        return AppPasswordSessionError(gettext("The Bluesky server had a problem while trying to %(doing)s.")
                                       % {"doing": doing},
                                       code=Reason.SERVER_ERROR, retryable=True)
    if exc.status == 401 or exc.error in TOKEN_ERROR_NAMES:
        return AppPasswordSessionError(gettext("Bluesky refused the app password (could not %(doing)s).")
                                       % {"doing": doing},
                                       code=Reason.AUTH_FAILED)
    return AppPasswordSessionError(gettext("Bluesky refused the request to %(doing)s (%(status)s).")
                                   % {"doing": doing, "status": exc.status},
                                   code=Reason.REQUEST_REJECTED)


class AppPasswordPdsSession(PdsSession):
    """An app-password session (a member's own, or the relay's), stored encrypted and shared."""

    kind = "app_password"
    renew_fields = ("identifier", "credential_fingerprint", "did", "handle", "pds_url", "access_jwt", "refresh_jwt",
                    "access_expires_at", "refresh_expires_at", "session_created_at", "refreshed_at", "create_count",
                    "refresh_count", "last_error")

    def __init__(self, account: AppPasswordAccount, *, http: SafeHttpClient | None = None,
                 resolver: IdentityResolver | None = None, now: Callable[[], datetime] | None = None) -> None:
        super().__init__(http=http)
        self.account = account
        self._resolver = resolver
        self._now = now or timezone.now
        self.row = None

    @property
    def resolver(self) -> IdentityResolver:
        return self._resolver or clients.identity_resolver()

    @property
    def access_token(self) -> str:
        return self.row.access_jwt

    def open(self) -> AppPasswordPdsSession:
        """Make sure a usable session exists (reused, refreshed, or created); returns self."""
        self.row = self._reload()
        if not self._is_fresh(self.row):
            self._renew_if(lambda r: not self._is_fresh(r))
        return self

    def _reload(self) -> AppPasswordSession:
        row, _ = AppPasswordSession.objects.get_or_create(
            account_key=self.account.account_key, defaults={"identifier": self.account.identifier})
        return row

    def _usable(self, row: AppPasswordSession) -> bool:
        return row.has_session and row.credential_fingerprint == self.account.fingerprint

    def _is_fresh(self, row: AppPasswordSession) -> bool:
        return (self._usable(row) and row.access_expires_at is not None
                and row.access_expires_at > self._now() + EXPIRY_MARGIN)

    def _access_token(self, row: AppPasswordSession) -> str:
        return row.access_jwt

    def _renew(self, row: AppPasswordSession) -> None:
        if self._usable(row) and self._refresh(row):
            return
        self._create(row)

    def _client(self) -> PdsClient:
        return PdsClient(http=self.http, pds_url=self.row.pds_url, access_token=self.row.access_jwt)

    def _store(self, row: AppPasswordSession, body: dict[str, Any], *, pds_url: str) -> None:
        access, refresh = body.get("accessJwt"), body.get("refreshJwt")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            raise AppPasswordSessionError(gettext("The Bluesky server did not return a session."),
                                          code=Reason.REQUEST_REJECTED, retryable=True)
        now = self._now()
        row.access_jwt = access
        row.refresh_jwt = refresh
        row.access_expires_at = _token_expiry(access, now=now)
        row.refresh_expires_at = _token_expiry(refresh, now=now)
        if isinstance(body.get("handle"), str):
            row.handle = body["handle"]
        row.pds_url = pds_url
        row.last_error = ""

    def _refresh(self, row: AppPasswordSession) -> bool:
        """Refresh with the stored refresh token. False: the token is dead, create a new session.
        Transient failures raise: recreating would spend createSession's small budget for nothing."""
        if row.refresh_expires_at is not None and row.refresh_expires_at <= self._now():
            return False
        client = PdsClient(http=self.http, pds_url=row.pds_url, access_token=row.refresh_jwt)
        try:
            body = client.post("com.atproto.server.refreshSession")
        except XrpcError as exc:
            if exc.status in (400, 401) or exc.error in TOKEN_ERROR_NAMES:
                logger.info("app-password session refresh refused; creating a new one",
                            extra={"account_key": row.account_key, "status": exc.status, "error": exc.error})
                return False
            raise session_error(exc, doing=gettext("refresh the Bluesky session")) from exc
        except TransportError as exc:
            raise AppPasswordSessionError(gettext("Could not reach the Bluesky server to refresh the session."),
                                          code=Reason.TRANSPORT, retryable=exc.retryable) from exc
        except AtprotoError as exc:  # a refused URL: retrying cannot help
            raise AppPasswordSessionError(gettext("The Bluesky server's address cannot be used."),
                                          code=Reason.TRANSPORT) from exc
        if body.get("did") and body.get("did") != row.did:
            # The server swapped accounts under us: never post with that session.
            raise AppPasswordSessionError(gettext("The Bluesky server returned a session for another account."),
                                          code=Reason.IDENTITY_MISMATCH)
        row.refreshed_at = self._now()
        row.refresh_count += 1
        self._store(row, body, pds_url=row.pds_url)
        return True

    def _create(self, row: AppPasswordSession) -> None:
        account = self.account
        # createSession has its own small budget per account (30 per 5 minutes, 300 a day): count
        # ours in the shared cache and stop short of it, so a broken refresh loop cannot lock the
        # account (the relay's is every host's) out of signing in.
        try:
            create_session_guard(account_key=account.account_key)
        except RateLimitedError as exc:
            raise AppPasswordSessionError(
                "Too many Bluesky sign-ins with this app password recently; posting resumes shortly.",
                code=Reason.RATE_LIMITED, retryable=True,
                retry_after=exc.retry_after) from exc
        try:
            # Fresh, not cached: which PDS hosts the account is exactly what we are about to trust.
            identity = self.resolver.resolve(account.identifier, fresh=True)
        except IdentityResolutionError as exc:
            transient = exc.code in _TRANSIENT_IDENTITY_CODES
            raise AppPasswordSessionError(
                gettext("Could not reach the servers that resolve the Bluesky account.") if transient
                else f"The Bluesky account {account.identifier!r} could not be resolved ({exc.message})",
                code=Reason.IDENTITY_UNRESOLVED, retryable=transient,
            ) from exc
        except AtprotoError as exc:
            raise AppPasswordSessionError(gettext("Could not reach the servers that resolve the Bluesky account."),
                                          code=Reason.IDENTITY_UNRESOLVED,
                                          retryable=isinstance(exc, TransportError) and exc.retryable) from exc
        pds_url = identity.pds_url.rstrip("/")
        client = PdsClient(http=self.http, pds_url=pds_url)
        try:
            body = client.post("com.atproto.server.createSession",
                               json={"identifier": account.identifier, "password": account.app_password})
        except XrpcError as exc:
            failure = f"createSession {exc.status} {exc.error}"[:300]
            AppPasswordSession.objects.filter(pk=row.pk).update(last_error=failure)
            raise session_error(exc, doing=gettext("sign in to Bluesky with the app password")) from exc
        except TransportError as exc:
            raise AppPasswordSessionError(gettext("Could not reach the Bluesky server to sign in."),
                                          code=Reason.TRANSPORT, retryable=exc.retryable) from exc
        except AtprotoError as exc:
            raise AppPasswordSessionError(gettext("The Bluesky server's address cannot be used."),
                                          code=Reason.TRANSPORT) from exc
        if body.get("did") != identity.did:
            # The DID the PDS signed us in as must be the account the DID document says lives there.
            AppPasswordSession.objects.filter(pk=row.pk).update(
                last_error="createSession returned another DID than the resolved identity", access_jwt="",
                refresh_jwt="")
            raise AppPasswordSessionError(
                gettext("The Bluesky server signed in a different account than the one configured."),
                                          code=Reason.IDENTITY_MISMATCH)
        row.identifier = account.identifier
        row.credential_fingerprint = account.fingerprint
        row.did = identity.did
        row.handle = identity.handle
        row.session_created_at = self._now()
        row.create_count += 1
        logger.info("app-password session created", extra={"account_key": row.account_key, "did": identity.did})
        self._store(row, body, pds_url=pds_url)


def app_password_session_delete(row: AppPasswordSession, *, http: SafeHttpClient | None = None) -> bool:
    """Ask the PDS to end the session (deleteSession with the refresh token); False if it could not
    be reached or refused."""
    client = PdsClient(http=http or clients.safe_http_client(), pds_url=row.pds_url, access_token=row.refresh_jwt)
    try:
        client.post("com.atproto.server.deleteSession")
    except AtprotoError as exc:
        logger.info("app-password session not deleted at the PDS",
                    extra={"account_key": row.account_key, "failure": type(exc).__name__})
        return False
    return True


# --- Credentials (secrets out: only the session seam and its agents call these) ---------------

def relay_credentials_get() -> AppPasswordAccount | None:
    """The relay account's credentials, DECRYPTED (the app password inside): the admin's
    `RelayAccount` row when it has an identifier, else settings. Only for opening a session."""
    row = RelayAccount.objects.filter(pk=RelayAccount.SINGLETON_PK).first()
    if row is not None and row.identifier.strip() and row.app_password:
        identifier, password = row.identifier, row.app_password
    else:
        identifier = settings.BLUESKY_RELAY_IDENTIFIER or ""
        password = settings.BLUESKY_RELAY_APP_PASSWORD or ""
    identifier = normalize_identifier(identifier)
    if not identifier or not password:
        return None
    return AppPasswordAccount(account_key=f"relay:{identifier}", identifier=identifier, app_password=password,
                              kind="relay")


def member_credentials_get(*, member: "Member") -> AppPasswordAccount | None:  # noqa: UP037 - a name for the type checker only
    """The member's app-password credentials, DECRYPTED. Only for opening a session."""
    row = _OWN_APP_PASSWORD.first(member_id=member.pk)
    if row is None or not row.app_password:
        return None
    return AppPasswordAccount(account_key=f"member:{member.pk}", identifier=row.identifier,
                              app_password=row.app_password, kind="member")
