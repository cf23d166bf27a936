"""`LegacyBlueskyAgent`: posts with an app-password session, from the member's own app password
or else the relay account."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from django.utils.translation import gettext as _

from bluesky.agents.base import BlueskyAgentInterface, PostingAccount
from bluesky.atproto import IdentityResolver, SafeHttpClient
from bluesky.errors import NotConnectedError
from bluesky.models import AppPasswordSession
from bluesky.sessions import AppPasswordAccount, AppPasswordPdsSession, member_credentials_get, relay_credentials_get

if TYPE_CHECKING:
    from core.users import Member


class LegacyBlueskyAgent(BlueskyAgentInterface[AppPasswordPdsSession]):
    name = "legacy"

    def __init__(self, *, http: SafeHttpClient | None = None, resolver: IdentityResolver | None = None,
                 now: Callable[[], datetime] | None = None) -> None:
        # Defaults: the process-wide clients (tests pass a MockTransport-backed client to inject faults).
        self._http, self._resolver, self._now = http, resolver, now

    def app_password_account(self, member: Member) -> AppPasswordAccount | None:
        return member_credentials_get(member=member) or relay_credentials_get()

    def posting_account(self, member: Member) -> PostingAccount | None:
        account = self.app_password_account(member)
        if account is None:
            return None
        # The handle the session last signed in as, else the configured identifier (a handle or DID).
        handle = AppPasswordSession.objects.filter(account_key=account.account_key).values_list(
            "handle", flat=True).first()
        return PostingAccount(kind=account.kind, key=account.account_key, handle=handle or account.identifier,
                              loaded=account)

    def session_for(self, account: AppPasswordAccount) -> AppPasswordPdsSession:
        return AppPasswordPdsSession(account, http=self._http, resolver=self._resolver, now=self._now)

    def _open_session(self, member: Member, posting: PostingAccount | None = None) -> AppPasswordPdsSession:
        loaded = posting.loaded if posting is not None else None
        account = loaded if isinstance(loaded, AppPasswordAccount) else self.app_password_account(member)
        if account is None:
            raise NotConnectedError(_("Posting needs an app password: add one on your Bluesky card, or ask staff "
                                      "to configure the relay account."))
        return self.session_for(account).open()

    # Records speak for their author: only the member's own app password, never the relay.
    def record_account(self, member: Member) -> PostingAccount | None:
        account = member_credentials_get(member=member)
        return PostingAccount(kind=account.kind, key=account.account_key) if account else None

    def _open_record_session(self, member: Member) -> AppPasswordPdsSession:
        account = member_credentials_get(member=member)
        if account is None:
            raise NotConnectedError(_("Publishing to Bluesky needs your own app password or a Bluesky connection."))
        return self.session_for(account).open()
