"""Writes-mode switch, relay account and members' app passwords (writes, keyword-only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from bluesky.agents.errors import AgentError, AppPasswordSessionError, WritesModeError
from bluesky.agents.models import (
    AppPasswordSession,
    MemberAppPassword,
    RelayAccount,
    WritesMode,
    WritesModeChange,
    WritesModeSetting,
)
from bluesky.agents.results import Reason
from bluesky.agents.sessions import AppPasswordAccount, AppPasswordSessionManager, relay_account_get
from bluesky.agents.xrpc import TransportFailure, XrpcFailure


def writes_mode_default() -> str:
    mode = (settings.BLUESKY_WRITES_MODE or WritesMode.LEGACY).strip().lower()
    return mode if mode in WritesMode.values else WritesMode.LEGACY


def writes_mode_setting_get_or_create() -> WritesModeSetting:
    setting, _ = WritesModeSetting.objects.get_or_create(
        pk=WritesModeSetting.SINGLETON_PK, defaults={"mode": writes_mode_default()}
    )
    return setting


@transaction.atomic
def writes_mode_set(*, mode: str, changed_by: Any = None) -> WritesModeSetting:
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
    setting.updated_by = changed_by if getattr(changed_by, "pk", None) else None
    setting.save()
    WritesModeChange.objects.create(
        changed_by=setting.updated_by,
        changed_by_username=getattr(changed_by, "username", "") or "",
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


def relay_check(*, sessions: AppPasswordSessionManager | None = None) -> RelayCheck:
    """Really obtain a relay session (reuse, refresh or create) and report whether it works."""
    account = relay_account_get()
    if account is None:
        return RelayCheck(ok=False, message="No relay account is configured.")
    manager = sessions or AppPasswordSessionManager()
    try:
        view = manager.session_for(account)
        # A cheap authenticated read proves the access token is accepted, not only stored.
        manager.caller(account, view)("GET", "com.atproto.server.getSession")
    except AgentError as exc:
        return RelayCheck(ok=False, message=exc.message)
    except XrpcFailure as exc:
        return RelayCheck(ok=False, message=f"The relay session was refused ({exc.status} {exc.error}).")
    except TransportFailure:
        return RelayCheck(ok=False, message="Could not reach the relay account's server.")
    row = AppPasswordSession.objects.filter(account_key=account.account_key).first()
    handle = row.handle if row else view.handle
    return RelayCheck(ok=True, message=f"Relay session works for @{handle} ({view.did}).", did=view.did, handle=handle)


def member_app_password_set(
    *, member: Any, identifier: str, app_password: str, sessions: AppPasswordSessionManager | None = None
) -> MemberAppPassword:
    """Store a member's app password after proving it signs in (the session is kept for posting).

    Nothing is stored when the sign-in fails; raises `AppPasswordSessionError` with a safe message.
    """
    identifier = identifier.strip().removeprefix("@")
    if not identifier.startswith("did:"):
        identifier = identifier.lower()
    if not identifier or not app_password.strip():
        raise AgentError("Enter your handle and an app password.", code=Reason.AUTH_FAILED)
    manager = sessions or AppPasswordSessionManager()
    account = AppPasswordAccount(
        account_key=f"member:{member.pk}", identifier=identifier, app_password=app_password.strip(), kind="member"
    )
    with transaction.atomic():
        MemberAppPassword.objects.filter(member_id=member.pk).delete()
        AppPasswordSession.objects.filter(account_key=account.account_key).delete()
        view = manager.session_for(account)
        return MemberAppPassword.objects.create(
            member=member, identifier=identifier, app_password=account.app_password, did=view.did, handle=view.handle
        )


def member_app_password_remove(*, member: Any, sessions: AppPasswordSessionManager | None = None) -> bool:
    """Forget the member's app password and its cached session. True if there was one.

    The session is first ended at the PDS (com.atproto.server.deleteSession, best effort), so the
    tokens we held die with it even though the member may keep the app password itself.
    """
    account_key = f"member:{member.pk}"
    row = AppPasswordSession.objects.filter(account_key=account_key).first()
    if row is not None and row.refresh_jwt and row.pds_url:
        (sessions or AppPasswordSessionManager()).end_session(row)
    with transaction.atomic():
        deleted, _ = MemberAppPassword.objects.filter(member_id=member.pk).delete()
        AppPasswordSession.objects.filter(account_key=account_key).delete()
    return bool(deleted)


__all__ = [
    "AppPasswordSessionError",
    "RelayCheck",
    "member_app_password_remove",
    "member_app_password_set",
    "relay_account_set",
    "relay_check",
    "writes_mode_default",
    "writes_mode_set",
    "writes_mode_setting_get_or_create",
]
