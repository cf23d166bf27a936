"""App-password sessions for the legacy agent: created once, stored encrypted, shared by every
process, refreshed with com.atproto.server.refreshSession, recreated only when refresh fails.

Why so careful: createSession is limited to 30 per 5 minutes (300 per day) per account, and a
refresh token is single-use, so two workers renewing at once would waste the budget or kill the
session. Renewal therefore happens under a row lock on `AppPasswordSession`, and the row is
re-read after the lock is taken: a session already renewed by another worker is used as is.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bluesky.agents.errors import AppPasswordSessionError
from bluesky.agents.models import AppPasswordSession, MemberAppPassword, RelayAccount
from bluesky.agents.protocol import protocol
from bluesky.agents.results import Reason
from bluesky.agents.xrpc import TransportFailure, XrpcFailure, call_with

logger = logging.getLogger(__name__)

# Renew a little before the server would refuse the token, so a post never carries a dying one.
EXPIRY_MARGIN = timedelta(seconds=60)
# Tokens whose expiry we cannot read are trusted this long (the PDS issues ~2 h access tokens).
UNKNOWN_EXPIRY = timedelta(minutes=5)
# Errors that mean "this token is no good", as opposed to "the server is unwell".
_TRANSIENT_IDENTITY_CODES = {"did_unreachable", "resolver_down"}
_TOKEN_ERRORS = {"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"}


@dataclass(frozen=True, slots=True)
class AppPasswordAccount:
    """Credentials of one posting account. Never logged; `__repr__` hides the password."""

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


@dataclass(frozen=True, slots=True)
class SessionView:
    did: str
    handle: str
    pds_url: str
    access_jwt: str

    def __repr__(self) -> str:
        return f"SessionView(did={self.did!r}, pds_url={self.pds_url!r})"


def relay_account_get() -> AppPasswordAccount | None:
    """The relay account: the admin's `RelayAccount` row when it has an identifier, else settings."""
    row = RelayAccount.objects.filter(pk=RelayAccount.SINGLETON_PK).first()
    if row is not None and row.identifier.strip() and row.app_password:
        identifier, password = row.identifier.strip(), row.app_password
    else:
        identifier = (settings.BLUESKY_RELAY_IDENTIFIER or "").strip()
        password = settings.BLUESKY_RELAY_APP_PASSWORD or ""
    if not identifier or not password:
        return None
    identifier = identifier.removeprefix("@").lower() if not identifier.startswith("did:") else identifier
    return AppPasswordAccount(
        account_key=f"relay:{identifier}", identifier=identifier, app_password=password, kind="relay"
    )


def member_account_get(*, member: Any) -> AppPasswordAccount | None:
    row = MemberAppPassword.objects.filter(member_id=member.pk).first()
    if row is None or not row.app_password:
        return None
    return AppPasswordAccount(
        account_key=f"member:{member.pk}", identifier=row.identifier, app_password=row.app_password, kind="member"
    )


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


def _default_http() -> Any:
    return protocol().safe_http_client()


def _default_resolver() -> Any:
    return protocol().identity_resolver()


def _pds_client(*, http: Any, pds_url: str, token: str | None) -> Any:
    return protocol().PdsClient(http=http, pds_url=pds_url, access_token=token)


class AppPasswordSessionManager:
    """Gives a usable session for an `AppPasswordAccount`, creating/refreshing it at most once
    across all processes. `http` and `resolver` default to the project's shared instances."""

    def __init__(self, *, http: Any = None, resolver: Any = None, now: Callable[[], datetime] | None = None) -> None:
        self._http = http
        self._resolver = resolver
        self._now = now or timezone.now

    @property
    def http(self) -> Any:
        if self._http is None:
            self._http = _default_http()
        return self._http

    @property
    def resolver(self) -> Any:
        if self._resolver is None:
            self._resolver = _default_resolver()
        return self._resolver

    # --- public ---------------------------------------------------------------------------

    def session_for(self, account: AppPasswordAccount) -> SessionView:
        row = AppPasswordSession.objects.filter(account_key=account.account_key).first()
        if row is not None and self._is_fresh(row, account):
            return self._view(row)
        return self._renew(account, rejected_access_jwt=None)

    def renew_after_rejection(self, account: AppPasswordAccount, *, rejected_access_jwt: str) -> SessionView:
        """The PDS refused `rejected_access_jwt`: refresh (or, failing that, recreate) the session
        unless another worker already replaced that token."""
        return self._renew(account, rejected_access_jwt=rejected_access_jwt)

    def client(self, view: SessionView) -> Any:
        return _pds_client(http=self.http, pds_url=view.pds_url, token=view.access_jwt)

    def caller(self, account: AppPasswordAccount, view: SessionView) -> Callable[..., dict[str, Any]]:
        """An XRPC call function bound to the session; on a rejected token it renews once and retries."""
        state = {"view": view}

        def call(method: str, nsid: str, *, params=None, json=None, headers=None) -> dict[str, Any]:
            current = state["view"]
            try:
                return call_with(self.client(current), method, nsid, params=params, json=json, headers=headers)
            except XrpcFailure as exc:
                if not _is_token_rejection(exc):
                    raise
            state["view"] = self.renew_after_rejection(account, rejected_access_jwt=current.access_jwt)
            return call_with(self.client(state["view"]), method, nsid, params=params, json=json, headers=headers)

        return call

    def end_session(self, row: AppPasswordSession) -> bool:
        """Ask the PDS to delete the session (refresh token); False if it could not be reached or refused."""
        client = _pds_client(http=self.http, pds_url=row.pds_url, token=row.refresh_jwt)
        try:
            call_with(client, "POST", "com.atproto.server.deleteSession")
        except (XrpcFailure, TransportFailure) as exc:
            logger.info(
                "app-password session not deleted at the PDS",
                extra={"account_key": row.account_key, "failure": type(exc).__name__},
            )
            return False
        return True

    # --- internals ------------------------------------------------------------------------

    def _is_fresh(self, row: AppPasswordSession, account: AppPasswordAccount) -> bool:
        return (
            row.has_session
            and row.credential_fingerprint == account.fingerprint
            and row.access_expires_at is not None
            and row.access_expires_at > self._now() + EXPIRY_MARGIN
        )

    @staticmethod
    def _view(row: AppPasswordSession) -> SessionView:
        return SessionView(did=row.did, handle=row.handle, pds_url=row.pds_url, access_jwt=row.access_jwt)

    def _renew(self, account: AppPasswordAccount, *, rejected_access_jwt: str | None) -> SessionView:
        row, _ = AppPasswordSession.objects.get_or_create(
            account_key=account.account_key, defaults={"identifier": account.identifier}
        )
        with transaction.atomic():
            # The UPDATE takes the row lock on PostgreSQL and the database write lock on SQLite
            # (where SELECT ... FOR UPDATE is a no-op); the select re-reads under that lock.
            AppPasswordSession.objects.filter(pk=row.pk).update(locked_at=self._now())
            row = AppPasswordSession.objects.select_for_update().get(pk=row.pk)
            same_credentials = row.credential_fingerprint == account.fingerprint
            if same_credentials and row.has_session:
                renewed_meanwhile = rejected_access_jwt is not None and row.access_jwt != rejected_access_jwt
                if renewed_meanwhile or (rejected_access_jwt is None and self._is_fresh(row, account)):
                    return self._view(row)
                refreshed = self._try_refresh(row)
                if refreshed is not None:
                    return refreshed
            return self._create(row, account)

    def _store(self, row: AppPasswordSession, body: dict[str, Any], *, pds_url: str) -> SessionView:
        now = self._now()
        access, refresh = body.get("accessJwt"), body.get("refreshJwt")
        if not isinstance(access, str) or not isinstance(refresh, str) or not access or not refresh:
            raise AppPasswordSessionError(
                "The Bluesky server did not return a session.", code=Reason.REQUEST_REJECTED, retryable=True
            )
        row.access_jwt = access
        row.refresh_jwt = refresh
        row.access_expires_at = _token_expiry(access, now=now)
        row.refresh_expires_at = _token_expiry(refresh, now=now)
        if isinstance(body.get("handle"), str):
            row.handle = body["handle"]
        row.pds_url = pds_url
        row.last_error = ""
        row.save()
        return self._view(row)

    def _try_refresh(self, row: AppPasswordSession) -> SessionView | None:
        """Refresh with the stored refresh token. None = the token is dead, create a new session.
        Transient failures raise: recreating would spend createSession's small budget for nothing."""
        if row.refresh_expires_at is not None and row.refresh_expires_at <= self._now():
            return None
        client = _pds_client(http=self.http, pds_url=row.pds_url, token=row.refresh_jwt)
        try:
            body = call_with(client, "POST", "com.atproto.server.refreshSession")
        except XrpcFailure as exc:
            if exc.status in (400, 401) or exc.error in _TOKEN_ERRORS:
                logger.info(
                    "app-password session refresh refused; creating a new one",
                    extra={"account_key": row.account_key, "status": exc.status, "error": exc.error},
                )
                return None
            raise _session_error(exc, doing="refresh the Bluesky session") from exc
        except TransportFailure as exc:
            raise AppPasswordSessionError(
                "Could not reach the Bluesky server to refresh the session.",
                code=Reason.TRANSPORT,
                retryable=exc.retryable,
            ) from exc
        if body.get("did") and body.get("did") != row.did:
            # The server swapped accounts under us: never post with that session.
            raise AppPasswordSessionError(
                "The Bluesky server returned a session for another account.", code=Reason.IDENTITY_MISMATCH
            )
        row.refreshed_at = self._now()
        row.refresh_count += 1
        return self._store(row, body, pds_url=row.pds_url)

    def _create(self, row: AppPasswordSession, account: AppPasswordAccount) -> SessionView:
        p = protocol()
        try:
            # Fresh, not cached: which PDS hosts the account is exactly what we are about to trust.
            identity = self.resolver.resolve(account.identifier, fresh=True)
        except p.IdentityResolutionError as exc:
            transient = exc.code in _TRANSIENT_IDENTITY_CODES
            raise AppPasswordSessionError(
                "Could not reach the servers that resolve the Bluesky account."
                if transient
                else f"The Bluesky account {account.identifier!r} could not be resolved ({exc.message})",
                code=Reason.IDENTITY_UNRESOLVED,
                retryable=transient,
            ) from exc
        except p.AtprotoError as exc:
            raise AppPasswordSessionError(
                "Could not reach the servers that resolve the Bluesky account.",
                code=Reason.IDENTITY_UNRESOLVED,
                retryable=bool(getattr(exc, "retryable", False)),
            ) from exc
        pds_url = str(identity.pds_url).rstrip("/")
        client = _pds_client(http=self.http, pds_url=pds_url, token=None)
        try:
            body = call_with(
                client,
                "POST",
                "com.atproto.server.createSession",
                json={"identifier": account.identifier, "password": account.app_password},
            )
        except XrpcFailure as exc:
            row.last_error = f"createSession {exc.status} {exc.error}"[:300]
            row.save(update_fields=["last_error", "updated_at"])
            raise _session_error(exc, doing="sign in to Bluesky with the app password") from exc
        except TransportFailure as exc:
            raise AppPasswordSessionError(
                "Could not reach the Bluesky server to sign in.", code=Reason.TRANSPORT, retryable=exc.retryable
            ) from exc
        if body.get("did") != identity.did:
            # The DID the PDS signed us in as must be the account the DID document says lives there.
            row.last_error = "createSession returned another DID than the resolved identity"
            row.access_jwt = row.refresh_jwt = ""
            row.save()
            raise AppPasswordSessionError(
                "The Bluesky server signed in a different account than the one configured.",
                code=Reason.IDENTITY_MISMATCH,
            )
        now = self._now()
        row.identifier = account.identifier
        row.credential_fingerprint = account.fingerprint
        row.did = identity.did
        row.handle = str(getattr(identity, "handle", "") or "")
        row.session_created_at = now
        row.create_count += 1
        logger.info("app-password session created", extra={"account_key": row.account_key, "did": identity.did})
        return self._store(row, body, pds_url=pds_url)


def _is_token_rejection(exc: XrpcFailure) -> bool:
    return exc.status == 401 or (exc.status == 400 and exc.error in _TOKEN_ERRORS)


def _session_error(exc: XrpcFailure, *, doing: str) -> AppPasswordSessionError:
    from bluesky.agents.base import retry_after_from

    if exc.status == 429:
        return AppPasswordSessionError(
            f"Bluesky's rate limit was reached while trying to {doing}.",
            code=Reason.RATE_LIMITED,
            retryable=True,
            retry_after=retry_after_from(exc),
        )
    if exc.status >= 500:
        return AppPasswordSessionError(
            f"The Bluesky server had a problem while trying to {doing}.", code=Reason.SERVER_ERROR, retryable=True
        )
    if exc.status == 401 or exc.error in _TOKEN_ERRORS:
        return AppPasswordSessionError(
            f"Bluesky refused the app password (could not {doing}).", code=Reason.AUTH_FAILED
        )
    return AppPasswordSessionError(
        f"Bluesky refused the request to {doing} ({exc.status}).", code=Reason.REQUEST_REJECTED
    )
