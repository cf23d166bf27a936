"""Posting to Bluesky: plain modules over `bluesky.sessions` (no models, views or migrations here).

- `bluesky.agents.factory.BlueskyAgentFactory.make()` -> the agent for the current writes mode
- `agent.create_post_for_member(member, record, *, rkey=None) -> BlueskyResult`
- `agent.posting_account(member) -> PostingAccount | None` (whose write budget a post spends)
- `agent.record_put_for_member(member, collection=, rkey=, record=, managed_keys=) -> BlueskyResult`,
  `agent.record_delete_for_member(...)`: other records (calendar events, RSVPs) in the member's own
  repository, checked against the bundled lexicons; `record_account(member)` (never the relay)
"""
