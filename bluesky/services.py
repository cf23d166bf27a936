"""Writes about Bluesky: connecting a member's account (start, callback, disconnect), the writes
mode, the relay account and members' app passwords.

Sessions themselves (calls, refresh under a lock shared by every process) live in
`bluesky.sessions`; this module only starts and ends them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from bluesky import clients
from bluesky.atproto import (
    AtprotoError,
    DpopKey,
    IdentityResolver,
    OAuthFlowError,
    PendingAuthorization,
    SafeHttpClient,
    TokenSet,
    XrpcError,
    callback_error,
    normalize_identifier,
)
from bluesky.errors import AppPasswordSessionError, BlueskyError, NotConnectedError, Reason, WritesModeError
from bluesky.models import (
    AppPasswordSession,
    BlueskyIdentity,
    MemberAppPassword,
    OAuthAuthorizationRequest,
    RelayAccount,
    WritesMode,
    WritesModeChange,
    WritesModeSetting,
)
from bluesky.selectors import relay_account_get, writes_mode_default
from bluesky.sessions import AppPasswordAccount, AppPasswordPdsSession, app_password_session_delete, tokens_of
from members.models import Member

logger = logging.getLogger(__name__)

REQUEST_LIFETIME = timedelta(minutes=10)
MAX_LOGIN_INPUT = 512


# --- Connecting a member's account (OAuth) ---------------------------------------------------------

def oauth_start(*, member: Member, login_input: str) -> str:
    """Push the authorization request and return the URL to send the member's browser to.

    `login_input`: a handle, a DID, or a server URL ("log in with bsky.social")."""
    text = (login_input or "").strip()
    if not text:
        raise OAuthFlowError("Enter your Bluesky handle, DID or server address.", code="empty_input")
    if len(text) > MAX_LOGIN_INPUT:
        raise OAuthFlowError("That is too long to be a handle, DID or server address.", code="invalid_input")
    pending = clients.oauth_client().start_authorization(text)
    OAuthAuthorizationRequest.objects.filter(member=member, expires_at__lt=timezone.now()).delete()
    OAuthAuthorizationRequest.objects.create(state=pending.state, member=member, issuer=pending.issuer,
                                             payload=json.dumps(pending.to_dict()),
                                             expires_at=timezone.now() + REQUEST_LIFETIME)
    return pending.authorization_url


def oauth_reauthorize(*, member: Member) -> str:
    """Start a new consent for the member's connected account (e.g. to grant more permissions)."""
    did = BlueskyIdentity.objects.filter(member=member).values_list("did", flat=True).first()
    if did is None:
        raise NotConnectedError()
    return oauth_start(member=member, login_input=did)


def oauth_complete(*, member: Member, params: Mapping[str, str]) -> BlueskyIdentity:
    """Finish a sign-in from the callback's query parameters. Raises `AtprotoError` subclasses with
    member-safe messages; nothing stored changes unless everything checks out."""
    pending_row = _authorization_request_consume(params.get("state", ""))
    if pending_row.member_id != member.pk:
        raise OAuthFlowError("This sign-in was started by someone else.", code="wrong_member")
    if pending_row.expires_at < timezone.now():
        raise OAuthFlowError("This sign-in took too long. Please start again.", code="state_expired")
    if error := callback_error(dict(params.items())):
        raise error
    pending = PendingAuthorization.from_dict(json.loads(pending_row.payload))
    client = clients.oauth_client()
    tokens = client.complete_authorization(pending, code=params.get("code", ""), iss=params.get("iss"))
    try:
        return _identity_store(member=member, tokens=tokens, dpop_key=pending.dpop_key,
                               nonces=client.nonces.to_dict())
    except OAuthFlowError:
        _revoke_quietly(tokens, pending.dpop_key.private_jwk_json())
        raise


def _authorization_request_consume(state: str) -> OAuthAuthorizationRequest:
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
def _identity_store(*, member: Member, tokens: TokenSet, dpop_key: DpopKey, nonces: dict[str, str]) -> BlueskyIdentity:
    if BlueskyIdentity.objects.filter(did=tokens.sub).exclude(member=member).exists():
        raise OAuthFlowError("That Bluesky account is already connected to another Elonara member.",
                             code="did_taken")
    previous = BlueskyIdentity.objects.select_for_update().filter(member=member).first()
    old_session = (tokens_of(previous), previous.dpop_private_jwk) if previous else None
    identity, _ = BlueskyIdentity.objects.update_or_create(member=member, defaults={
        "did": tokens.sub, "handle": tokens.handle, "pds_url": tokens.pds_url, "issuer": tokens.issuer,
        "scope": tokens.scope, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token or "",
        "dpop_private_jwk": dpop_key.private_jwk_json(), "dpop_nonces": nonces, "expires_at": tokens.expires_at,
        "client_kid": tokens.client_kid or "", "status": BlueskyIdentity.Status.CONNECTED,
        "connected_at": timezone.now(), "refreshed_at": None,
    })
    if old_session and old_session[0].refresh_token != tokens.refresh_token:
        transaction.on_commit(lambda: _revoke_quietly(*old_session))
    return identity


def identity_disconnect(*, member: Member) -> bool:
    """Revoke at the server, then delete tokens and key locally even if revocation failed."""
    identity = BlueskyIdentity.objects.filter(member=member).first()
    if identity is None:
        return False
    _revoke_quietly(tokens_of(identity), identity.dpop_private_jwk)
    identity.delete()
    return True


def _revoke_quietly(tokens: TokenSet, dpop_private_jwk: str) -> None:
    try:
        clients.oauth_client().revoke(tokens, dpop_key=DpopKey.from_private_jwk(dpop_private_jwk))
    except AtprotoError as exc:
        logger.warning("bluesky revocation failed", extra={"code": exc.code})


def oauth_requests_cleanup() -> int:
    deleted, _ = OAuthAuthorizationRequest.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


# --- The writes mode and the relay account (staff) ---------------------------------------------------

def writes_mode_setting_get_or_create() -> WritesModeSetting:
    setting, _ = WritesModeSetting.objects.get_or_create(
        pk=WritesModeSetting.SINGLETON_PK, defaults={"mode": writes_mode_default()}
    )
    return setting


@transaction.atomic
def writes_mode_set(*, mode: str, changed_by: Member | None = None) -> WritesModeSetting:
    """Set the site's writes mode; records a `WritesModeChange` when it really changes."""
    if mode not in WritesMode.values:
        raise WritesModeError(f"Unknown writes mode {mode!r}; expected one of {', '.join(WritesMode.values)}.")
    writes_mode_setting_get_or_create()
    # Locked so two staff saving at once produce two consistent audit rows (from -> to chains).
    setting = WritesModeSetting.objects.select_for_update().get(pk=WritesModeSetting.SINGLETON_PK)
    previous = setting.mode
    if previous == mode:
        return setting
    setting.mode = mode
    setting.updated_by = changed_by if changed_by is not None and changed_by.pk else None
    setting.save()
    WritesModeChange.objects.create(
        changed_by=setting.updated_by,
        changed_by_username=changed_by.username if changed_by is not None else "",
        from_mode=previous,
        to_mode=mode,
    )
    return setting


@transaction.atomic
def relay_account_set(*, identifier: str, app_password: str | None) -> RelayAccount:
    """Set the admin-managed relay account. `app_password=None` keeps the stored one."""
    row, _ = RelayAccount.objects.select_for_update().get_or_create(pk=RelayAccount.SINGLETON_PK)
    row.identifier = identifier.strip()
    if app_password is not None:
        row.app_password = app_password
    row.save()
    return row


@dataclass(frozen=True, slots=True)
class RelayCheck:
    ok: bool
    message: str
    did: str = ""
    handle: str = ""


def relay_check(*, http: SafeHttpClient | None = None, resolver: IdentityResolver | None = None) -> RelayCheck:
    """Really obtain a relay session (reuse, refresh or create) and report whether it works."""
    account = relay_account_get()
    if account is None:
        return RelayCheck(ok=False, message="No relay account is configured.")
    session = AppPasswordPdsSession(account, http=http, resolver=resolver)
    try:
        # A cheap authenticated read proves the access token is accepted, not only stored.
        session.open().get("com.atproto.server.getSession")
    except BlueskyError as exc:
        return RelayCheck(ok=False, message=exc.message)
    except XrpcError as exc:
        return RelayCheck(ok=False, message=f"The relay session was refused ({exc.status} {exc.error}).")
    except AtprotoError:
        return RelayCheck(ok=False, message="Could not reach the relay account's server.")
    return RelayCheck(ok=True, message=f"Relay session works for @{session.handle} ({session.did}).",
                      did=session.did, handle=session.handle)


# --- Members' app passwords --------------------------------------------------------------------------

def member_app_password_set(*, member: Member, identifier: str, app_password: str,
                            http: SafeHttpClient | None = None,
                            resolver: IdentityResolver | None = None) -> MemberAppPassword:
    """Store a member's app password after proving it signs in (the session is kept for posting).

    Nothing is stored when the sign-in fails; raises `AppPasswordSessionError` with a safe message.
    """
    identifier = normalize_identifier(identifier)
    if not identifier or not app_password.strip():
        raise AppPasswordSessionError("Enter your handle and an app password.", code=Reason.AUTH_FAILED)
    account = AppPasswordAccount(account_key=f"member:{member.pk}", identifier=identifier,
                                 app_password=app_password.strip(), kind="member")
    session = AppPasswordPdsSession(account, http=http, resolver=resolver)
    with transaction.atomic():
        MemberAppPassword.objects.filter(member_id=member.pk).delete()
        AppPasswordSession.objects.filter(account_key=account.account_key).delete()
        session.open()
        return MemberAppPassword.objects.create(member=member, identifier=identifier,
                                                app_password=account.app_password, did=session.did,
                                                handle=session.handle)


def member_app_password_remove(*, member: Member, http: SafeHttpClient | None = None) -> bool:
    """Forget the member's app password and its cached session. True if there was one.

    The session is first ended at the PDS (com.atproto.server.deleteSession, best effort), so the
    tokens we held die with it even though the member may keep the app password itself.
    """
    account_key = f"member:{member.pk}"
    row = AppPasswordSession.objects.filter(account_key=account_key).first()
    if row is not None and row.refresh_jwt and row.pds_url:
        app_password_session_delete(row, http=http)
    with transaction.atomic():
        deleted, _ = MemberAppPassword.objects.filter(member_id=member.pk).delete()
        AppPasswordSession.objects.filter(account_key=account_key).delete()
    return bool(deleted)
