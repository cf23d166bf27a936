"""What a granted OAuth scope string allows. One rule per permission, used by the card, the API,
the agents and the admin's readiness count, so they never disagree. No Django imports.

`atproto` is always required; `transition:generic` grants everything an app password could do
(observed on the official PDS: posting, graph reads, blobs and any repo write).
"""

from __future__ import annotations

from urllib.parse import parse_qs

from bluesky.atproto.nsid import POST_NSID

POST_COLLECTION = POST_NSID


def _tokens(scope: str) -> set[str] | None:
    """The granted tokens, or None when the grant has no `atproto` (it allows nothing)."""
    granted = set((scope or "").split())
    return granted if "atproto" in granted else None


def _repo_grant(token: str) -> tuple[set[str], set[str]] | None:
    """(collections, actions) a `repo` scope token grants; empty actions = every action."""
    if token.startswith("repo:"):
        collection, _, query = token.removeprefix("repo:").partition("?")
        params = parse_qs(query)
        return {collection}, set(params.get("action", []))
    if token.startswith("repo?"):
        params = parse_qs(token.removeprefix("repo?"))
        return set(params.get("collection", [])), set(params.get("action", []))
    return None


def scope_allows_record_write(scope: str, collection: str, action: str) -> bool:
    """Whether the session may `action` ("create", "update", "delete") records of `collection`
    (`repo:<nsid>`, `repo:<nsid>?action=...`, `repo?collection=...`, `repo:*`, transition:generic)."""
    granted = _tokens(scope)
    if granted is None:
        return False
    if "transition:generic" in granted:
        return True
    for token in granted:
        grant = _repo_grant(token)
        if grant is None:
            continue
        collections, actions = grant
        if (collection in collections or "*" in collections) and (not actions or action in actions):
            return True
    return False


def scope_allows_posting(scope: str) -> bool:
    """Whether a granted scope string lets the session create posts (checked before any request)."""
    return scope_allows_record_write(scope, POST_COLLECTION, "create")


def scope_allows_graph_reads(scope: str) -> bool:
    """Whether followers/follows can be read through the PDS's App View proxy."""
    granted = _tokens(scope)
    if granted is None:
        return False
    if "transition:generic" in granted:
        return True
    return any(t.startswith(("rpc:app.bsky.graph.getFollowers", "rpc:app.bsky.graph.getFollows")) for t in granted)


def scope_allows_rpc(scope: str, nsid: str) -> bool:
    """Whether the session may call `nsid` through the PDS's service proxy (`rpc:<nsid>?aud=...`,
    `rpc:*`, or the transitional generic grant)."""
    granted = _tokens(scope)
    if granted is None:
        return False
    if "transition:generic" in granted:
        return True
    return any(t.split("?", 1)[0] in (f"rpc:{nsid}", "rpc:*") for t in granted)


def _accepts(pattern: str, mime: str) -> bool:
    if pattern == "*/*" or pattern == mime:
        return True
    return pattern.endswith("/*") and mime.startswith(pattern[:-1])


def scope_allows_blob(scope: str, mime_type: str) -> bool:
    """Whether the session may upload a blob of `mime_type` (`blob:image/*`, `blob?accept=...`)."""
    granted = _tokens(scope)
    if granted is None:
        return False
    if "transition:generic" in granted:
        return True
    for token in granted:
        if token.startswith("blob:"):
            patterns = [token.removeprefix("blob:")]
        elif token.startswith("blob?"):
            patterns = parse_qs(token.removeprefix("blob?")).get("accept", [])
        else:
            continue
        if any(_accepts(p, mime_type) for p in patterns):
            return True
    return False
