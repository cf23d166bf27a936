"""Reading a member's Bluesky social graph (followers / follows) through their own PDS.

The PDS proxies `app.bsky.graph.*` to the App View named by the `atproto-proxy` header
(settings.BLUESKY_APPVIEW); the member's DPoP session (nonces, refresh) is `OAuthPdsSession`.
Pages are cached briefly so paging back and forth in the picker does not refetch. The server-side
check that a picked account really may be invited (`find_invitable`) always reads the live graph:
a follower of a minute ago must not be refused as "not connected" from a stale page.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Literal

from django.conf import settings
from django.core.cache import cache
from django.utils.translation import gettext

from bluesky.atproto import AtprotoError, XrpcError
from bluesky.atproto.nsid import GRAPH_GET_FOLLOWERS, GRAPH_GET_FOLLOWS
from bluesky.atproto.scopes import scope_allows_rpc
from bluesky.errors import BlueskyError, SessionEndedError
from bluesky.records import is_did
from bluesky.sessions import AppPasswordPdsSession, OAuthPdsSession, PdsSession, member_credentials_get
from core import metrics
from core.errors import ApplicationError

if TYPE_CHECKING:
    from core.users import Member

logger = logging.getLogger(__name__)

GraphKind = Literal["followers", "follows"]
PAGE_LIMIT = 100
CACHE_SECONDS = 120
_NSID = {"followers": GRAPH_GET_FOLLOWERS, "follows": GRAPH_GET_FOLLOWS}
GET_PROFILES = "app.bsky.actor.getProfiles"
GET_BLOCKS = "app.bsky.graph.getBlocks"
GET_MUTES = "app.bsky.graph.getMutes"
# app.bsky.actor.getProfiles takes at most this many actors per call.
PROFILES_PER_CALL = 25
# A member's blocks and mutes are kept this long: a block made in the Bluesky app shows here within
# minutes, and "Upcoming" does not ask the App View on every page view.
HIDDEN_ACCOUNTS_SECONDS = 300
# After a failed read, nothing is known: asked again this soon rather than at every page view.
HIDDEN_ACCOUNTS_RETRY_SECONDS = 30
HIDDEN_ACCOUNTS_MAX_PAGES = 20


class GraphError(ApplicationError):
    """A graph page could not be read. `code`: not_connected | missing_scope | invalid_request | upstream |
    invalid_response; `upstream_status`: the App View's HTTP status, when it answered."""

    http_status = 502
    status_by_code = {"not_connected": 409, "missing_scope": 403, "invalid_request": 400}

    def __init__(self, *, code: str, message: str, status: int | None = None) -> None:
        self.upstream_status = status
        super().__init__(message, code=code, retryable=code == "upstream")


@dataclass(frozen=True)
class GraphProfile:
    did: str
    handle: str
    display_name: str
    avatar_url: str
    # Does this account follow the member? From the App View's `viewer.followedBy` (the member is
    # the viewer, through their PDS); always True on the followers list, None when not said.
    follows_you: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class GraphPage:
    kind: str
    profiles: list[GraphProfile]
    cursor: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "profiles": [p.as_dict() for p in self.profiles], "cursor": self.cursor}


def _cache_key(*, member_id: int, kind: str, cursor: str | None, limit: int) -> str:
    # Cursors are opaque and may be long: hash them into the key.
    digest = hashlib.sha256((cursor or "").encode()).hexdigest()[:32]
    return f"bsky-graph:{member_id}:{kind}:{limit}:{digest}"


def _profile_from(item: Any, *, kind: str = "follows") -> GraphProfile | None:
    # Untrusted input from the App View: keep only well-formed strings.
    if not isinstance(item, dict):
        return None
    did, handle = item.get("did"), item.get("handle")
    if not is_did(did) or not isinstance(handle, str):
        return None
    display_name = item.get("displayName")
    display_name = display_name if isinstance(display_name, str) else ""
    avatar = item.get("avatar")
    # Only https avatars are shown (an http or javascript: URL from upstream is dropped).
    if not isinstance(avatar, str) or not avatar.startswith("https://"):
        avatar = ""
    viewer = item.get("viewer")
    followed_by = viewer.get("followedBy") if isinstance(viewer, dict) else None
    follows_you = (True if kind == "followers" else isinstance(followed_by, str) and followed_by.startswith("at://"))
    return GraphProfile(did=did, handle=handle, display_name=display_name[:640], avatar_url=avatar,
                        follows_you=follows_you)


@dataclass(frozen=True)
class Invitable:
    """`profiles`: DID -> profile of those who may be invited; `refused`: DID -> why not
    (`not_mutual`: followed by the member but not following back; `not_connected`: neither)."""

    profiles: dict[str, GraphProfile]
    refused: dict[str, str]


@dataclass(frozen=True)
class ViewerState:
    """How the viewer and one account stand on Bluesky (the App View's `viewer` of a profile)."""

    blocked_by: bool = False  # the account blocks the viewer
    blocking: bool = False  # the viewer blocks the account
    muted: bool = False  # the viewer muted the account


def _viewer_state_from(item: Any) -> tuple[str, ViewerState] | None:
    # Untrusted input from the App View: a block is said by an at:// URI (blocking) or a boolean.
    if not isinstance(item, dict) or not is_did(item.get("did")):
        return None
    viewer = item.get("viewer")
    viewer = viewer if isinstance(viewer, dict) else {}
    blocking = viewer.get("blocking")
    return item["did"], ViewerState(
        blocked_by=viewer.get("blockedBy") is True,
        blocking=isinstance(blocking, str) and blocking.startswith("at://"),
        muted=viewer.get("muted") is True)


def member_pds_session(member: Member) -> PdsSession | None:
    """The member's own session (OAuth first, else their own app password; never the relay, whose
    viewer state is not the member's), or None."""
    session = OAuthPdsSession.for_member(member)
    if session is not None:
        return session
    account = member_credentials_get(member=member)
    return AppPasswordPdsSession(account) if account is not None else None


def _read(session: PdsSession, nsid: str, params: dict[str, Any], *, what: str) -> dict[str, Any]:
    """One App View read through the member's PDS, its failures as GraphError."""
    if isinstance(session, OAuthPdsSession) and not scope_allows_rpc(session.scope, nsid):
        # Checked before asking: a grant from before we asked for it (reauthorizing adds it).
        raise GraphError(code="missing_scope", status=403,
                         message=f"Bluesky did not grant permission to read {what}: "
                                 "reauthorize Elonara on your Bluesky card.")
    try:
        body = session.get(nsid, params=params, headers={"atproto-proxy": settings.BLUESKY_APPVIEW})
    except SessionEndedError as exc:
        raise GraphError(code="not_connected", message=str(exc)) from exc
    except XrpcError as exc:
        if exc.status == 403:
            raise GraphError(code="missing_scope", status=403,
                             message=f"Bluesky did not grant permission to read {what}: "
                                     "reauthorize Elonara on your Bluesky card.") from exc
        logger.warning("graph read failed", extra={"nsid": nsid, "status": exc.status, "error": exc.error})
        if exc.status == 429:
            metrics.bluesky_rate_limited("graph")
        raise GraphError(code="upstream", status=exc.status,
                         message=f"Bluesky could not list {what} now; try again.") from exc
    except AtprotoError as exc:  # transport: timeout, refused, unsafe URL
        logger.warning("graph read failed", extra={"nsid": nsid, "error": type(exc).__name__})
        raise GraphError(code="upstream", message="Bluesky could not be reached; try again.") from exc
    except BlueskyError as exc:  # an app-password session that cannot open (revoked, refused)
        raise GraphError(code="not_connected", message="Your Bluesky session could not be opened.") from exc
    if not isinstance(body, dict):
        raise GraphError(code="invalid_response", message="Bluesky sent an unexpected answer.")
    return body


class BlueskyGraphService:
    def _session_for(self, member: Member) -> OAuthPdsSession:
        session = OAuthPdsSession.for_member(member)
        if session is None:
            raise GraphError(code="not_connected",
                             message=gettext("Connect your Bluesky account to see your followers."))
        return session

    def get_followers(self, member: Member, cursor: str | None = None) -> GraphPage:
        return self.get_page(member=member, kind="followers", cursor=cursor)

    def get_follows(self, member: Member, cursor: str | None = None) -> GraphPage:
        return self.get_page(member=member, kind="follows", cursor=cursor)

    def get_page(self, *, member: Member, kind: GraphKind, cursor: str | None = None,
                 limit: int = PAGE_LIMIT, fresh: bool = False) -> GraphPage:
        """One page of the member's followers or follows; `fresh` skips the cache (and refills it)."""
        if kind not in _NSID:
            raise GraphError(code="invalid_request", message="Unknown graph kind.")
        limit = max(1, min(limit, PAGE_LIMIT))
        key = _cache_key(member_id=member.pk, kind=kind, cursor=cursor, limit=limit)
        cached = None if fresh else cache.get(key)
        if cached is not None:
            return GraphPage(
                kind=kind, profiles=[GraphProfile(**p) for p in cached["profiles"]], cursor=cached["cursor"]
            )
        session = self._session_for(member)
        params: dict[str, Any] = {"actor": session.did, "limit": limit}
        if cursor:
            params["cursor"] = cursor
        try:
            body = session.get(_NSID[kind], params=params, headers={"atproto-proxy": settings.BLUESKY_APPVIEW})
        except SessionEndedError as exc:
            raise GraphError(code="not_connected", message=str(exc)) from exc
        except XrpcError as exc:
            if exc.status == 403:
                raise GraphError(code="missing_scope", status=403,
                                 message="Bluesky did not grant permission to read your followers: "
                                         "reauthorize Elonara on your Bluesky card.") from exc
            logger.warning("graph read failed", extra={"kind": kind, "status": exc.status, "error": exc.error})
            if exc.status == 429:
                metrics.bluesky_rate_limited("graph")
            raise GraphError(code="upstream", status=exc.status,
                             message="Bluesky could not list your followers now; try again.") from exc
        except AtprotoError as exc:  # transport: timeout, refused, unsafe URL
            logger.warning("graph read failed", extra={"kind": kind, "error": type(exc).__name__})
            raise GraphError(code="upstream", message="Bluesky could not be reached; try again.") from exc
        if not isinstance(body, dict):
            raise GraphError(code="invalid_response", message="Bluesky sent an unexpected answer.")
        items = body.get(kind)
        if not isinstance(items, list):
            raise GraphError(code="invalid_response", message="Bluesky sent an unexpected answer.")
        profiles = [p for p in (_profile_from(i, kind=kind) for i in items) if p is not None]
        next_cursor = body.get("cursor") if isinstance(body.get("cursor"), str) and body.get("cursor") else None
        page = GraphPage(kind=kind, profiles=profiles, cursor=next_cursor)
        cache.set(key, {"profiles": [p.as_dict() for p in profiles], "cursor": next_cursor}, CACHE_SECONDS)
        return page

    def _walk(self, *, member: Member, kind: GraphKind, wanted: set[str], max_pages: int,
              limit: int) -> dict[str, GraphProfile]:
        found: dict[str, GraphProfile] = {}
        if not wanted:
            return found
        cursor: str | None = None
        for _ in range(max_pages):
            page = self.get_page(member=member, kind=kind, cursor=cursor, limit=limit, fresh=True)
            for profile in page.profiles:
                if profile.did in wanted and profile.did not in found:
                    found[profile.did] = profile
            if len(found) == len(wanted) or page.cursor is None:
                break
            cursor = page.cursor
        return found

    def find_invitable(self, *, member: Member, dids: set[str], max_pages: int = 200,
                       limit: int = PAGE_LIMIT) -> Invitable:
        """Which of `dids` the member may invite (server-side anti-spam check, on the live graph).

        A mention notifies, so only people who chose to hear from the member qualify: their
        followers. Someone the member follows counts only when they follow back, which makes them a
        follower too, so the followers list decides. The follows list is read only to say why the
        others cannot be invited (`not_mutual`: you follow them, they do not follow you back).
        """
        wanted = set(dids)
        followers = self._walk(member=member, kind="followers", wanted=wanted, max_pages=max_pages, limit=limit)
        rest = wanted - set(followers)
        follows_only = self._walk(member=member, kind="follows", wanted=rest, max_pages=max_pages, limit=limit)
        refused = {did: ("not_mutual" if did in follows_only else "not_connected") for did in rest}
        return Invitable(profiles=followers, refused=refused)

    def viewer_states(self, *, member: Member, dids: list[str]) -> dict[str, ViewerState]:
        """How the member stands with each of `dids` (blocks both ways, mutes), from the App View's
        viewer state read with the member's own session: only their token makes the App View say
        who blocks them. Accounts the App View does not return are absent."""
        session = member_pds_session(member)
        if session is None:
            raise GraphError(code="not_connected", message="Connect your Bluesky account to check who blocks you.")
        wanted = list(dict.fromkeys(d for d in dids if is_did(d)))
        states: dict[str, ViewerState] = {}
        for start in range(0, len(wanted), PROFILES_PER_CALL):
            body = _read(session, GET_PROFILES, {"actors": wanted[start:start + PROFILES_PER_CALL]},
                         what="these profiles")
            items = body.get("profiles")
            for item in items if isinstance(items, list) else []:
                read = _viewer_state_from(item)
                if read is not None and read[0] in wanted:
                    states[read[0]] = read[1]
        return states

    def hidden_accounts(self, *, member: Member, fresh: bool = False) -> dict[str, str]:
        """DID -> "block" or "mute": the accounts the member blocks or mutes on Bluesky (their
        `getBlocks` and `getMutes`, read with their own session), kept per member for a few
        minutes; `fresh` reads them again. Empty when the member has no Bluesky session or the App
        View cannot say now (pages then show everything rather than fail)."""
        key = f"bsky-hidden-accounts:{member.pk}"
        cached = None if fresh else cache.get(key)
        if isinstance(cached, dict):
            return cached
        session = member_pds_session(member)
        if session is None:  # kept too: pages ask on every view, and this costs two queries
            cache.set(key, {}, HIDDEN_ACCOUNTS_SECONDS)
            return {}
        found: dict[str, str] = {}
        try:
            for nsid, field, why in ((GET_MUTES, "mutes", "mute"), (GET_BLOCKS, "blocks", "block")):
                cursor: str | None = None
                for _ in range(HIDDEN_ACCOUNTS_MAX_PAGES):
                    params: dict[str, Any] = {"limit": PAGE_LIMIT, **({"cursor": cursor} if cursor else {})}
                    body = _read(session, nsid, params, what="whom you block and mute")
                    items = body.get(field)
                    items = items if isinstance(items, list) else []
                    # A block outranks a mute (read second, it overwrites): the stronger reason is shown.
                    found.update({i["did"]: why for i in items if isinstance(i, dict) and is_did(i.get("did"))})
                    cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
                    if not cursor or not items:
                        break
        except GraphError as exc:
            logger.info("blocks and mutes not read", extra={"code": exc.code})
            cache.set(key, {}, HIDDEN_ACCOUNTS_RETRY_SECONDS)
            return {}
        cache.set(key, found, HIDDEN_ACCOUNTS_SECONDS)
        return found
