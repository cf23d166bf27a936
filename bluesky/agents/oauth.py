"""`OAuthBlueskyAgent`: posts with the member's own DPoP session from `BlueskyOAuthService`
(refresh, nonces and DPoP proofs are handled there)."""

from __future__ import annotations

from typing import Any

from bluesky.agents.base import BlueskyAgentInterface
from bluesky.agents.errors import AgentError
from bluesky.agents.results import BlueskyResult, Reason
from bluesky.agents.xrpc import call_with

# Any one of these lets a session create app.bsky.feed.post records (observed on the official PDS).
POSTING_SCOPES = (
    "transition:generic",
    "repo:app.bsky.feed.post?action=create",
    "repo:app.bsky.feed.post",
    "repo:*",
)

REAUTHORIZE_MESSAGE = (
    "Your Bluesky connection does not allow Elonara to create posts. Please reauthorize Elonara on your "
    "Bluesky card and grant posting permission."
)


def scope_allows_posting(scope: str) -> bool:
    """Whether a granted scope string lets the session create posts (checked before any request)."""
    granted = set((scope or "").split())
    if "atproto" not in granted:
        return False
    for token in granted:
        if token in POSTING_SCOPES:
            return True
        # repo:<collection>?action=create&action=... or repo?collection=app.bsky.feed.post
        if token.startswith("repo:app.bsky.feed.post?") and ("action=create" in token or "action=" not in token):
            return True
        if (
            token.startswith("repo?")
            and "collection=app.bsky.feed.post" in token
            and ("action=create" in token or "action=" not in token)
        ):
            return True
    return False


class OAuthBlueskyAgent(BlueskyAgentInterface):
    name = "oauth"

    def __init__(self, *, oauth_service: Any = None) -> None:
        self._oauth_service = oauth_service

    @property
    def oauth_service(self) -> Any:
        if self._oauth_service is None:
            try:
                from bluesky.services import BlueskyOAuthService
            except ImportError as exc:
                # Deployed before the Connect-Bluesky service exists: nobody can be connected yet.
                raise AgentError(
                    "Posting with your own Bluesky connection is not available yet.", code=Reason.NOT_CONNECTED
                ) from exc
            self._oauth_service = BlueskyOAuthService()
        return self._oauth_service

    def _create_post(self, member: Any, record: dict[str, Any], *, rkey: str | None) -> BlueskyResult:
        session = self.oauth_service.get_identity_for_member(member)
        if session is None:
            raise AgentError("Connect your Bluesky account to post invitations.", code=Reason.NOT_CONNECTED)
        if not self._has_posting_scope(session):
            return BlueskyResult.failure(
                reason=Reason.SCOPE_MISSING, error=REAUTHORIZE_MESSAGE, agent=self.name, repo_did=session.did
            )

        def call(method: str, nsid: str, *, params=None, json=None, headers=None) -> dict[str, Any]:
            return call_with(session, method, nsid, params=params, json=json, headers=headers)

        return self._write_post(call=call, repo_did=session.did, record=record, rkey=rkey)

    @staticmethod
    def _has_posting_scope(session: Any) -> bool:
        has_scope = getattr(session, "has_scope", None)
        if callable(has_scope) and any(has_scope(s) for s in POSTING_SCOPES):
            return True
        return scope_allows_posting(str(getattr(session, "scope", "") or ""))
