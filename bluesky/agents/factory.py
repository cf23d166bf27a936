"""`BlueskyAgentFactory.make()`: the agent for the writes mode in force right now."""

from __future__ import annotations

from bluesky.agents.base import BlueskyAgentInterface
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
