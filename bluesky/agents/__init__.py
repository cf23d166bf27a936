"""Posting to Bluesky. Public API (import from the submodules to keep app loading lazy):

- `bluesky.agents.factory.BlueskyAgentFactory.make()` -> agent for the current writes mode
- `agent.create_post_for_member(member, record, *, rkey=None) -> bluesky.agents.results.BlueskyResult`
- `bluesky.agents.validation.validate_post_record(record)`
"""
