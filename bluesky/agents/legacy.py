"""`LegacyBlueskyAgent`: posts with an app-password session, from the member's own app password
or else the relay account."""

from __future__ import annotations

from typing import Any

from bluesky.agents.base import BlueskyAgentInterface
from bluesky.agents.errors import AgentError
from bluesky.agents.results import BlueskyResult, Reason
from bluesky.agents.sessions import (
    AppPasswordAccount,
    AppPasswordSessionManager,
    member_account_get,
    relay_account_get,
)


class LegacyBlueskyAgent(BlueskyAgentInterface):
    name = "legacy"

    def __init__(self, *, sessions: AppPasswordSessionManager | None = None) -> None:
        self.sessions = sessions or AppPasswordSessionManager()

    def account_for_member(self, member: Any) -> AppPasswordAccount:
        account = member_account_get(member=member) or relay_account_get()
        if account is None:
            raise AgentError(
                "Posting needs an app password: add one on your Bluesky card, or ask staff to configure "
                "the relay account.",
                code=Reason.NOT_CONNECTED,
            )
        return account

    def _create_post(self, member: Any, record: dict[str, Any], *, rkey: str | None) -> BlueskyResult:
        account = self.account_for_member(member)
        view = self.sessions.session_for(account)
        call = self.sessions.caller(account, view)
        return self._write_post(call=call, repo_did=view.did, record=record, rkey=rkey)
