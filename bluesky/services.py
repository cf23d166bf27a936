"""Writes about Bluesky: connecting a member's account (start, callback, disconnect), the writes
mode, the relay account and members' app passwords.

Sessions themselves (calls, refresh under a lock shared by every process) live in
`bluesky.sessions`; this module only starts and ends them.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.debug import sensitive_variables

from bluesky import clients
from bluesky.atproto import (
    AtprotoError,
    DpopKey,
    IdentityResolver,
    OAuthClient,
    OAuthFlowError,
    PdsClient,
    PendingAuthorization,
    SafeHttpClient,
    TokenSet,
    XrpcError,
    callback_error,
    normalize_identifier,
)
from bluesky.atproto.http import origin_of
from bluesky.errors import AppPasswordSessionError, BlueskyError, NotConnectedError, Reason, WritesModeError
from bluesky.models import (
    AppPasswordSession,
    BlueskyIdentity,
    BlueskySignIn,
    MemberAppPassword,
    OAuthAuthorizationRequest,
    RelayAccount,
    WritesMode,
    WritesModeChange,
    WritesModeSetting,
)
from bluesky.selectors import IdentitySummary, identity_summary_of, writes_mode_default
from bluesky.sessions import (
    AppPasswordAccount,
    AppPasswordPdsSession,
    app_password_session_delete,
    relay_credentials_get,
    tokens_of,
)
from core.sql import STAND_IN_ID, FixedQuery
from core.tasks import task_on_commit

if TYPE_CHECKING:
    from core.users import Member

logger = logging.getLogger(__name__)

# Sent after commit when a DID becomes a member's (sign-up, sign-in, connect); kwargs: member_id, did.
# Apps holding things by DID (outside answers to events) fold them into the member's.
did_linked = Signal()

REQUEST_LIFETIME = timedelta(minutes=10)
MAX_LOGIN_INPUT = 512


# --- Connecting a member's account (OAuth) ---------------------------------------------------------

def browser_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _oauth_start(*, login_input: str, browser_secret: str, member: Member | None = None,
                 purpose: str = OAuthAuthorizationRequest.Purpose.CONNECT, next_path: str = "") -> str:
    """Push the authorization request and return the URL to send the browser to.

    `login_input`: a handle, a DID, or a server URL ("log in with bsky.social").
    `browser_secret`: a random value kept in the starting browser's session; the callback must
    come back with it. `member`: who connects (`purpose` connect); nobody for a sign-in.
    `next_path`: a same-site path to land on afterwards (the caller checks it is same-site).
    """
    if purpose == OAuthAuthorizationRequest.Purpose.CONNECT and member is None:
        raise NotConnectedError(gettext("Sign in to Elonara before connecting a Bluesky account."))
    text = (login_input or "").strip()
    if not text:
        raise OAuthFlowError(gettext("Enter your Bluesky handle, DID or server address."), code="empty_input")
    if len(text) > MAX_LOGIN_INPUT:
        raise OAuthFlowError(gettext("That is too long to be a handle, DID or server address."), code="invalid_input")
    # Proving an account asks for nothing but `atproto`: no posting, no reading, no tokens kept.
    scope = "atproto" if purpose == OAuthAuthorizationRequest.Purpose.OPT_OUT else None
    pending = clients.oauth_client().start_authorization(text, scope=scope)
    oauth_requests_cleanup()
    OAuthAuthorizationRequest.objects.create(
        state=pending.state, member=member, purpose=purpose, browser_hash=browser_hash(browser_secret),
        next_path=next_path[:2000], issuer=pending.issuer, payload=json.dumps(pending.to_dict()),
        expires_at=timezone.now() + REQUEST_LIFETIME,
    )
    return pending.authorization_url


def _oauth_reauthorize(*, member: Member, browser_secret: str, next_path: str = "") -> str:
    """Start a new consent for the member's connected account (e.g. to grant more permissions).
    `next_path`: a same-site path to come back to (the page that asked), else the profile."""
    did = BlueskyIdentity.objects.filter(member=member).values_list("did", flat=True).first()
    if did is None:
        raise NotConnectedError()
    return _oauth_start(member=member, login_input=did, browser_secret=browser_secret, next_path=next_path)


@dataclass(frozen=True)
class OAuthCompletion:
    identity: BlueskyIdentity | None
    member: Member | None
    purpose: str
    member_created: bool
    next_path: str
    # The DID the server proved (every purpose); for OPT_OUT the only thing that survives the flow.
    did: str = ""


@sensitive_variables("params", "browser_secret", "pending", "pending_row", "tokens", "client")
def _oauth_complete(*, params: Mapping[str, str], browser_secret: str,
                    member: Member | None = None) -> OAuthCompletion:
    """Finish a connect or a sign-in from the callback's query parameters.

    The pending request must have been started by this browser (and, to connect, by this member):
    otherwise it is refused and left alone, so nobody else opening a victim's callback URL can
    cancel the victim's sign-in. Raises `AtprotoError` subclasses with member-safe messages;
    nothing stored changes unless everything checks out.
    """
    pending_row = _pending_request_take(params=params, browser_secret=browser_secret, member=member)
    pending = PendingAuthorization.from_dict(json.loads(pending_row.payload))
    client = clients.oauth_client()
    tokens = client.complete_authorization(pending, code=params.get("code", ""), iss=params.get("iss"))
    if pending_row.purpose == OAuthAuthorizationRequest.Purpose.OPT_OUT:
        # The DID is proven; nothing else is wanted. Store no token, make no member, and end the
        # session at the server right away.
        _revoke_quietly(tokens, pending.dpop_key.private_jwk_json())
        return OAuthCompletion(identity=None, member=None, purpose=pending_row.purpose, member_created=False,
                               next_path=pending_row.next_path, did=tokens.sub)
    connecting = pending_row.purpose == OAuthAuthorizationRequest.Purpose.CONNECT
    identity, owner, created = _identity_keep(pending_row=pending_row, pending=pending, tokens=tokens,
                                              client=client, connecting=connecting)
    if connecting:
        _member_profile_fill(member=owner, did=tokens.sub, pds_url=tokens.pds_url)
    return OAuthCompletion(identity=identity, member=owner, purpose=pending_row.purpose, member_created=created,
                           next_path=pending_row.next_path, did=tokens.sub)


@sensitive_variables("params", "browser_secret")
def _pending_request_take(*, params: Mapping[str, str], browser_secret: str,
                          member: Member | None) -> OAuthAuthorizationRequest:
    """The callback's pending request, checked in order and consumed (single use) before the
    server's answer is looked at; raises `OAuthFlowError` on the first check that fails."""
    state = params.get("state", "")[:100]
    pending_row = OAuthAuthorizationRequest.objects.filter(state=state).first() if state else None
    if pending_row is None:
        raise OAuthFlowError(gettext("This sign-in link is unknown, expired or already used. Please start again."),
                             code="state_unknown")
    # Checked before consuming: a callback opened in another browser must not cancel the real one.
    if not hmac.compare_digest(pending_row.browser_hash, browser_hash(browser_secret)):
        raise OAuthFlowError(gettext("This sign-in was started in another browser. Please start again here."),
                             code="wrong_browser")
    connecting = pending_row.purpose == OAuthAuthorizationRequest.Purpose.CONNECT
    if connecting and (member is None or pending_row.member_id != member.pk):
        raise OAuthFlowError(gettext("This sign-in was started by someone else."), code="wrong_member")
    _authorization_request_consume(pending_row)
    if pending_row.expires_at < timezone.now():
        raise OAuthFlowError(gettext("This sign-in took too long. Please start again."), code="state_expired")
    if error := callback_error(dict(params.items())):
        raise error
    return pending_row


@sensitive_variables("pending", "tokens", "client")
def _identity_keep(*, pending_row: OAuthAuthorizationRequest, pending: PendingAuthorization, tokens: TokenSet,
                   client: OAuthClient, connecting: bool) -> tuple[BlueskyIdentity, Member, bool]:
    """Store the granted session for its member (the connecting one, or the one this DID signs in,
    made if new): (identity, member, member created). Anything refused revokes the session."""
    try:
        with transaction.atomic():
            created = False
            if connecting:
                owner = pending_row.member
                if owner is None:  # the member who started a connect was deleted meanwhile
                    raise OAuthFlowError(gettext("That sign-in request has expired. Please try again."),
                                         code="no_member")
            else:
                owner, created = _member_for_sign_in(tokens)
            # Only the nonces of this account's own servers are kept with it.
            mine = {origin_of(tokens.pds_url), origin_of(tokens.issuer)}
            identity = _identity_store(member=owner, tokens=tokens, dpop_key=pending.dpop_key,
                                       nonces={o: n for o, n in client.nonces.to_dict().items() if o in mine},
                                       auth_method=client.auth_method)
            owner_id, did = owner.pk, tokens.sub
            transaction.on_commit(lambda: did_linked.send(sender=BlueskyIdentity, member_id=owner_id, did=did))
            # Their face from the App View, read by a worker (not on this request).
            task_on_commit("bluesky.member_profiles_refresh", owner_id)
    except (OAuthFlowError, IntegrityError) as exc:
        # Never keep a session we did not store: the server forgets it too.
        _revoke_quietly(tokens, pending.dpop_key.private_jwk_json())
        if isinstance(exc, IntegrityError):
            raise OAuthFlowError(gettext("That Bluesky account was just connected elsewhere. Please try again."),
                                 code="store_conflict") from exc
        raise
    return identity, owner, created


def _member_profile_fill(*, member: Member, did: str, pds_url: str) -> None:
    """A member who signed up with a password and connects Bluesky: their avatar (and display name,
    when they have none) from the Bluesky profile, so the pages and invitation landings show them as
    their posts do. What the member set themselves is never overwritten."""
    if member.avatar_url and member.display_name:
        return
    display_name, avatar_url = _bluesky_profile(did=did, pds_url=pds_url)
    changes = {}
    if avatar_url and not member.avatar_url:
        changes["avatar_url"] = avatar_url
    if display_name and not member.display_name:
        changes["display_name"] = display_name[:100]
    if changes:
        for field, value in changes.items():
            setattr(member, field, value)
        # Saved (not updated): the pages that show the member learn of it (post_save).
        member.save(update_fields=list(changes))


def _authorization_request_consume(row: OAuthAuthorizationRequest) -> None:
    # Deleted before anything else happens, in its own transaction: single use even when the
    # rest of the callback fails (a concurrent callback with the same state finds nothing).
    with transaction.atomic():
        deleted, _ = OAuthAuthorizationRequest.objects.filter(pk=row.pk).delete()
    if not deleted:
        raise OAuthFlowError(gettext("This sign-in link is unknown, expired or already used. Please start again."),
                             code="state_unknown")


def _member_for_sign_in(tokens: TokenSet) -> tuple[Member, bool]:
    """The member this DID signs in (by DID only: a handle can move to another account), or a new
    member made for it from the Bluesky profile."""
    identity = BlueskyIdentity.objects.select_related("member").filter(did=tokens.sub).first()
    if identity is not None:
        _refuse_inactive(identity.member)
        BlueskySignIn.objects.filter(member=identity.member, did=tokens.sub).update(last_used_at=timezone.now())
        return identity.member, False
    link = BlueskySignIn.objects.select_related("member").filter(did=tokens.sub).first()
    if link is not None:
        _refuse_inactive(link.member)
        BlueskySignIn.objects.filter(pk=link.pk).update(last_used_at=timezone.now())
        return link.member, False
    display_name, avatar_url = _bluesky_profile(did=tokens.sub, pds_url=tokens.pds_url)
    member = get_user_model()(username=_username_from(tokens.handle),
                              display_name=display_name[:100] or tokens.handle[:100], avatar_url=avatar_url)
    member.set_unusable_password()
    member.save()
    BlueskySignIn.objects.create(member=member, did=tokens.sub, last_used_at=timezone.now())
    return member, True


def _refuse_inactive(member: Member) -> None:
    # A deactivated member stays out whichever way they come (password logins check is_active too);
    # raised inside the store's transaction, so the tokens just obtained are revoked.
    if not member.is_active:
        raise OAuthFlowError(gettext("This Elonara account is deactivated."), code="member_inactive")


_USERNAME_CHARS = re.compile(r"[^a-z0-9_-]+")


def _username_from(handle: str) -> str:
    base = _USERNAME_CHARS.sub("", handle.split(".", 1)[0].lower())[:30] or "member"
    taken = set(get_user_model().objects.filter(username__startswith=base).values_list("username", flat=True))
    if base not in taken:
        return base
    for n in range(2, 1000):
        if f"{base}-{n}" not in taken:
            return f"{base}-{n}"
    return f"{base}-{secrets.token_hex(4)}"


def _bluesky_profile(*, did: str, pds_url: str) -> tuple[str, str]:
    """Display name and avatar URL from the account's public profile record ("" when unknown).

    Read from the account's own PDS without credentials, like any app would; a failure only
    costs the nicety."""
    client = PdsClient(http=clients.safe_http_client(), pds_url=pds_url)
    try:
        record = client.get("com.atproto.repo.getRecord",
                            params={"repo": did, "collection": "app.bsky.actor.profile", "rkey": "self"})
    except AtprotoError:
        return "", ""
    value = record.get("value")
    value = value if isinstance(value, dict) else {}
    name = value.get("displayName")
    name = name if isinstance(name, str) else ""
    avatar = value.get("avatar")
    ref = avatar.get("ref") if isinstance(avatar, dict) else None
    cid = ref.get("$link") if isinstance(ref, dict) else None
    cid = cid if isinstance(cid, str) else ""
    avatar_url = ""
    if cid and re.fullmatch(r"[a-z0-9]{10,100}", cid):
        avatar_url = f"{pds_url.rstrip('/')}/xrpc/com.atproto.sync.getBlob?{urlencode({'did': did, 'cid': cid})}"
    return " ".join(name.split())[:100], avatar_url


@transaction.atomic
def _identity_store(*, member: Member, tokens: TokenSet, dpop_key: DpopKey, nonces: dict[str, str],
                    auth_method: str) -> BlueskyIdentity:
    if (BlueskyIdentity.objects.filter(did=tokens.sub).exclude(member=member).exists()
            or BlueskySignIn.objects.filter(did=tokens.sub).exclude(member=member).exists()):
        raise OAuthFlowError(gettext("That Bluesky account is already connected to another Elonara member."),
                             code="did_taken")
    previous = BlueskyIdentity.objects.select_for_update().filter(member=member).first()
    old_session = (tokens_of(previous), previous.dpop_private_jwk) if previous else None
    identity, _ = BlueskyIdentity.objects.update_or_create(member=member, defaults={
        "did": tokens.sub, "handle": tokens.handle, "pds_url": tokens.pds_url, "issuer": tokens.issuer,
        "scope": tokens.scope, "access_token": tokens.access_token, "refresh_token": tokens.refresh_token or "",
        "dpop_private_jwk": dpop_key.private_jwk_json(), "dpop_nonces": nonces, "expires_at": tokens.expires_at,
        "client_kid": tokens.client_kid or "", "auth_method": auth_method,
        "status": BlueskyIdentity.Status.CONNECTED,
        "connected_at": timezone.now(), "refreshed_at": None,
    })
    if old_session and old_session[0].refresh_token != tokens.refresh_token:
        transaction.on_commit(lambda: _revoke_quietly(*old_session))
    return identity


def _identity_disconnect(*, member: Member) -> bool:
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
    """Forget every member's and every visitor's abandoned sign-ins (beat, every 10 minutes)."""
    deleted, _ = OAuthAuthorizationRequest.objects.filter(expires_at__lt=timezone.now()).delete()
    return deleted


# What may be shown of a member's identity, never the encrypted columns (compiled once: core.sql).
_IDENTITY_SHOWN = FixedQuery(lambda member_id: (
    BlueskyIdentity.objects.filter(member_id=member_id)
    .only("did", "handle", "pds_url", "scope", "status", "connected_at").order_by("pk")[:1]), member_id=STAND_IN_ID)


class BlueskyOAuthService:
    """The one door for a member's Bluesky identity (the name the product's design documents use):
    start a connection or a sign-in, complete it from the callback, read the member's identity, ask
    whether it is connected, disconnect. Views, the API, tasks and other apps call these methods;
    the module's `_oauth_*` / `_identity_*` functions are its steps and nobody else's
    (`tests/bluesky/test_oauth_door.py` fails otherwise)."""

    @staticmethod
    def start(*, login_input: str, browser_secret: str, member: Member | None = None,
              purpose: str = OAuthAuthorizationRequest.Purpose.CONNECT, next_path: str = "") -> str:
        """Push the authorization request and return the URL to send the browser to.

        `login_input`: a handle, a DID, or a server URL ("log in with bsky.social").
        `browser_secret`: a random value kept in the starting browser's session; the callback must
        come back with it. `member`: who connects (`purpose` connect); nobody for a sign-in or a
        proof of a DID (`purpose` opt-out). `next_path`: a same-site path to land on afterwards
        (the caller checks it is same-site).
        """
        return _oauth_start(login_input=login_input, browser_secret=browser_secret, member=member,
                            purpose=purpose, next_path=next_path)

    @staticmethod
    def reauthorize(*, member: Member, browser_secret: str, next_path: str = "") -> str:
        """Start a new consent for the member's connected account (e.g. to grant more permissions),
        coming back to `next_path` (a same-site path: the page that asked) or the profile."""
        return _oauth_reauthorize(member=member, browser_secret=browser_secret, next_path=next_path)

    @staticmethod
    def complete(*, params: Mapping[str, str], browser_secret: str, member: Member | None = None) -> OAuthCompletion:
        """Finish what `start` began, from the callback's query parameters (see `_oauth_complete`)."""
        return _oauth_complete(params=params, browser_secret=browser_secret, member=member)

    @staticmethod
    def get_identity_for_member(*, member: Member) -> IdentitySummary | None:
        """What may be shown of the member's identity (never a secret); None if not connected."""
        if not member.is_authenticated:
            return None
        # Only what is shown: loading the whole row would decrypt tokens and the DPoP key for nothing.
        identity = _IDENTITY_SHOWN.first(member_id=member.pk)
        return identity_summary_of(identity) if identity is not None else None

    @staticmethod
    def is_connected(*, member: Member) -> bool:
        return BlueskyIdentity.objects.filter(member_id=member.pk, status=BlueskyIdentity.Status.CONNECTED).exists()

    @staticmethod
    def disconnect(*, member: Member) -> bool:
        """Revoke at the server, then forget the tokens and key even if revocation failed; False
        when there was nothing to disconnect."""
        return _identity_disconnect(member=member)


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
@sensitive_variables("app_password")
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
    account = relay_credentials_get()
    if account is None:
        return RelayCheck(ok=False, message=gettext("No relay account is configured."))
    session = AppPasswordPdsSession(account, http=http, resolver=resolver)
    try:
        # A cheap authenticated read proves the access token is accepted, not only stored.
        session.open().get("com.atproto.server.getSession")
    except BlueskyError as exc:
        return RelayCheck(ok=False, message=exc.message)
    except XrpcError as exc:
        return RelayCheck(ok=False, message=gettext("The relay session was refused (%(status)s %(error)s).")
                          % {"status": exc.status, "error": exc.error})
    except AtprotoError:
        return RelayCheck(ok=False, message=gettext("Could not reach the relay account's server."))
    return RelayCheck(ok=True, message=gettext("Relay session works for @%(handle)s (%(did)s).")
                      % {"handle": session.handle, "did": session.did},
                      did=session.did, handle=session.handle)


# --- Members' app passwords --------------------------------------------------------------------------

@sensitive_variables("app_password", "account", "session")
def member_app_password_set(*, member: Member, identifier: str, app_password: str,
                            http: SafeHttpClient | None = None,
                            resolver: IdentityResolver | None = None) -> MemberAppPassword:
    """Store a member's app password after proving it signs in (the session is kept for posting).

    Nothing is stored when the sign-in fails; raises `AppPasswordSessionError` with a safe message.
    """
    identifier = normalize_identifier(identifier)
    if not identifier or not app_password.strip():
        raise AppPasswordSessionError(gettext("Enter your handle and an app password."), code=Reason.AUTH_FAILED)
    account = AppPasswordAccount(account_key=f"member:{member.pk}", identifier=identifier,
                                 app_password=app_password.strip(), kind="member")
    session = AppPasswordPdsSession(account, http=http, resolver=resolver)
    # Signs in first, outside any transaction (a member-chosen server may be slow); a session of
    # other credentials under the same key is not reused (its fingerprint differs), so this is a
    # real sign-in with exactly these credentials.
    session.open()
    with transaction.atomic():
        MemberAppPassword.objects.filter(member_id=member.pk).delete()
        # Their face from the App View, read by a worker once this is committed.
        task_on_commit("bluesky.member_profiles_refresh", member.pk)
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
