"""Reads about members' Bluesky connections (never secrets)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from bluesky.models import BlueskyIdentity
from members.models import Member

# Plain words for the permissions a member granted.
_SCOPE_WORDS = {
    "atproto": "Sign in with your Bluesky account",
    "transition:generic": "Full access, like an app password",
    "transition:chat.bsky": "Read and send chat messages",
    "repo:app.bsky.feed.post?action=create": "Create posts",
    "repo:app.bsky.feed.post": "Create, edit and delete posts",
    "repo:*": "Change anything in your repository",
}


def scope_in_words(scope: str) -> list[str]:
    words = []
    for token in scope.split():
        if token in _SCOPE_WORDS:
            words.append(_SCOPE_WORDS[token])
        elif token.startswith("rpc:app.bsky.graph.getFollowers"):
            words.append("See who follows you")
        elif token.startswith("rpc:app.bsky.graph.getFollows"):
            words.append("See who you follow")
        else:
            words.append(token)
    return words


@dataclass(frozen=True)
class IdentitySummary:
    did: str
    handle: str
    server_host: str
    scope: str
    permissions: list[str]
    status: str
    connected_at: object
    can_post: bool
    can_read_graph: bool


def identity_get_for_member(*, member: Member) -> IdentitySummary | None:
    identity = BlueskyIdentity.objects.filter(member=member).first() if member.is_authenticated else None
    if identity is None:
        return None
    granted = set(identity.scope.split())
    can_post = bool(granted & {"transition:generic", "repo:app.bsky.feed.post?action=create",
                               "repo:app.bsky.feed.post", "repo:*"})
    can_read = "transition:generic" in granted or any(t.startswith("rpc:app.bsky.graph.getFollow") for t in granted)
    return IdentitySummary(
        did=identity.did, handle=identity.handle, server_host=urlsplit(identity.pds_url).netloc,
        scope=identity.scope, permissions=scope_in_words(identity.scope), status=identity.status,
        connected_at=identity.connected_at, can_post=can_post, can_read_graph=can_read,
    )


def identity_is_connected(*, member: Member) -> bool:
    return BlueskyIdentity.objects.filter(member=member, status=BlueskyIdentity.Status.CONNECTED).exists()
