"""`BlueskyAgentFactory.make()`: the agent for the writes mode in force right now."""

from __future__ import annotations

from bluesky.agents.base import BlueskyAgentInterface, PostingAccount
from bluesky.agents.legacy import LegacyBlueskyAgent
from bluesky.agents.oauth import OAuthBlueskyAgent
from bluesky.models import WritesMode
from bluesky.selectors import writes_mode_get


class BlueskyAgentFactory:
    @staticmethod
    def make(*, mode: str | None = None) -> BlueskyAgentInterface:
        """Read the writes mode from the database on every call, so an admin's flip applies to the
        very next post in every process, without a restart. `mode` overrides it (tests, tools)."""
        chosen = mode or writes_mode_get()
        if chosen == WritesMode.OAUTH:
            return OAuthBlueskyAgent()
        return LegacyBlueskyAgent()

    @staticmethod
    def make_for_records(member, *, mode: str | None = None) -> tuple[BlueskyAgentInterface, PostingAccount] | None:
        """The agent that writes `member`'s own records, and the account it uses (None: none can).

        The writes mode's agent first; if the member has no account there (an app password in
        OAuth mode, or an OAuth connection in legacy mode), the other one: a record in a member's
        repository can only be written with that member's own credentials, never the relay."""
        first = BlueskyAgentFactory.make(mode=mode)
        second = LegacyBlueskyAgent() if isinstance(first, OAuthBlueskyAgent) else OAuthBlueskyAgent()
        for agent in (first, second):
            account = agent.record_account(member)
            if account is not None:
                return agent, account
        return None
