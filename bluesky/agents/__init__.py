"""Posting to Bluesky: plain modules over `bluesky.sessions` (no models, views or migrations here).

- `bluesky.agents.factory.BlueskyAgentFactory.make()` -> the agent for the current writes mode
- `agent.create_post_for_member(member, record, *, rkey=None) -> BlueskyResult`
- `agent.posting_account(member) -> PostingAccount | None` (whose write budget a post spends)
"""
