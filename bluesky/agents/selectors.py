"""Reads: the current writes mode and whether each mode is ready."""

from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps

from bluesky.agents.models import AppPasswordSession, RelayAccount, WritesModeSetting
from bluesky.agents.oauth import scope_allows_posting
from bluesky.agents.sessions import relay_account_get


def writes_mode_get() -> str:
    """The writes mode in force now (read from the database on every call: no restart needed)."""
    from bluesky.agents.services import writes_mode_default

    mode = WritesModeSetting.objects.filter(pk=WritesModeSetting.SINGLETON_PK).values_list("mode", flat=True).first()
    return mode or writes_mode_default()


@dataclass(frozen=True, slots=True)
class RelayStatus:
    configured: bool
    source: str  # "admin", "settings" or ""
    identifier: str
    did: str = ""
    handle: str = ""
    session_created_at: object = None
    refreshed_at: object = None
    create_count: int = 0
    refresh_count: int = 0
    last_error: str = ""


def relay_status_get() -> RelayStatus:
    account = relay_account_get()
    if account is None:
        return RelayStatus(configured=False, source="", identifier="")
    admin_row = RelayAccount.objects.filter(pk=RelayAccount.SINGLETON_PK).first()
    source = (
        "admin" if admin_row is not None and admin_row.identifier.strip() and admin_row.app_password else "settings"
    )
    row = AppPasswordSession.objects.filter(account_key=account.account_key).first()
    if row is None:
        return RelayStatus(configured=True, source=source, identifier=account.identifier)
    return RelayStatus(
        configured=True,
        source=source,
        identifier=account.identifier,
        did=row.did,
        handle=row.handle,
        session_created_at=row.session_created_at,
        refreshed_at=row.refreshed_at,
        create_count=row.create_count,
        refresh_count=row.refresh_count,
        last_error=row.last_error,
    )


def oauth_posting_identity_count() -> int | None:
    """Members whose OAuth identity may create posts; None while `bluesky.BlueskyIdentity` does not exist."""
    try:
        model = apps.get_model("bluesky", "BlueskyIdentity")
    except LookupError:
        return None
    field_names = {f.name for f in model._meta.get_fields()}
    scope_field = next((n for n in ("scope", "granted_scope") if n in field_names), None)
    queryset = model.objects.all()
    if "status" in field_names:
        # Identities that need reconnection cannot post, whatever their scope says.
        queryset = queryset.exclude(status__in=["needs_reconnection", "needs_reconnect", "disconnected", "revoked"])
    if scope_field is None:
        return queryset.count()
    return sum(1 for scope in queryset.values_list(scope_field, flat=True).iterator() if scope_allows_posting(scope))
