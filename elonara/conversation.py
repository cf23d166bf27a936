"""The event's conversation: replies to its announcement post on Bluesky, read from the App View.

The host (or a co-host) names the announcement post (a bsky.app link or an at:// URI). Replies
are read with `app.bsky.feed.getPostThread` from the public App View (settings.BLUESKY_APPVIEW_URL)
through our SSRF-safe client, stored on the event's EventConversation row and shown from there:
a page view never waits for Bluesky. A view of a stale conversation queues one refresh (at most
one per event per CONVERSATION_REFRESH_SECONDS, claimed in the database), and every refresh
spends from one site-wide budget (RATE_LIMITS["conversation"]), so a popular page cannot make us
hammer the App View.

What the App View says is respected: blocked and missing posts (#blockedPost, #notFoundPost) are
not shown, nor posts whose author the viewer blocks, is blocked by or mutes, nor posts or
authors carrying a label that asks to hide.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext

from bluesky import clients
from bluesky.atproto import AtprotoError
from bluesky.atproto.syntax import is_valid_at_identifier, is_valid_record_key
from bluesky.records import is_did
from core.page_cache import PAGE_CACHE_SECONDS
from core.ratelimit import Limit, RateLimitedError, rate_limit_hit
from core.tasks import task_on_commit
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import Event, EventConversation
from elonara.selectors import event_can_manage
from members.models import Member

logger = logging.getLogger(__name__)

CONVERSATION_REFRESH_SECONDS = 120
MAX_REPLIES = 50
THREAD_DEPTH = 3
# Labels that hide a post here (Bluesky's own hide/takedown values and adult content: an event
# page is seen by anyone, signed in or not, with no preference to show them).
HIDING_LABELS = frozenset({"!hide", "!takedown", "!suspend", "spam", "porn", "sexual", "nudity", "graphic-media",
                           "gore"})
_BSKY_LINK = re.compile(r"^https://bsky\.app/profile/(?P<actor>[^/?#]+)/post/(?P<rkey>[^/?#]+)/?$")
_AT_URI = re.compile(r"^at://(?P<actor>[^/]+)/app\.bsky\.feed\.post/(?P<rkey>[^/?#]+)$")


def post_uri_parse(*, link: str) -> tuple[str, str]:
    """(actor, rkey) of a post link: https://bsky.app/profile/<handle or DID>/post/<rkey> or an
    at:// URI. `actor` is still to be resolved when it is a handle."""
    text = link.strip()
    match = _BSKY_LINK.match(text) or _AT_URI.match(text)
    if match is None:
        raise InvalidInputError(gettext("Paste the post's link from Bluesky (https://bsky.app/profile/…/post/…)."),
                                field="post")
    actor, rkey = match["actor"], match["rkey"]
    if not is_valid_record_key(rkey) or not is_valid_at_identifier(actor):
        raise InvalidInputError(gettext("That is not a Bluesky post link."), field="post")
    return actor, rkey


def post_web_url(uri: str) -> str:
    """The bsky.app page of a post, where people reply."""
    did, _, rkey = uri.removeprefix("at://").partition("/app.bsky.feed.post/")
    return f"https://bsky.app/profile/{did}/post/{rkey}"


@transaction.atomic
def conversation_set(*, event: Event, actor: Member, link: str) -> EventConversation:
    """Name the announcement post (the host or a co-host); its replies are read right after commit."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can link the event's Bluesky post."))
    who, rkey = post_uri_parse(link=link)
    did = who
    if not is_did(who):
        try:
            did = clients.identity_resolver().resolve_handle(who)
        except AtprotoError as exc:
            raise InvalidInputError(gettext("We could not find that Bluesky account."), field="post") from exc
    uri = f"at://{did}/app.bsky.feed.post/{rkey}"
    conversation, _created = EventConversation.objects.update_or_create(
        event=event, defaults={"post_uri": uri, "replies": [], "reply_count": 0, "fetched_at": None,
                               "refresh_requested_at": timezone.now(), "last_error": "", "set_by": actor})
    task_on_commit("elonara.refresh_conversation", event.pk)
    return conversation


@transaction.atomic
def conversation_clear(*, event: Event, actor: Member) -> None:
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can change the event's Bluesky post."))
    EventConversation.objects.filter(event=event).delete()


def conversation_fresh_seconds(*, conversation: EventConversation | None, now: datetime | None = None) -> int:
    """How long the replies as stored stay fresh: a page showing them is kept no longer (its next
    view asks for a refresh). No conversation: nothing to refresh."""
    if conversation is None:
        return PAGE_CACHE_SECONDS
    if conversation.fetched_at is None:
        return 0
    fresh_until = conversation.fetched_at + timedelta(seconds=CONVERSATION_REFRESH_SECONDS)
    return max(0, int((fresh_until - (now or timezone.now())).total_seconds()))


def conversation_refresh_if_stale(*, conversation: EventConversation | None, now: datetime | None = None) -> bool:
    """Called by the event page: queue one refresh when the stored replies are old. The claim is
    one conditional UPDATE, so concurrent views of a stale page queue a single refresh."""
    if conversation is None:
        return False
    now = now or timezone.now()
    stale_before = now - timedelta(seconds=CONVERSATION_REFRESH_SECONDS)
    if conversation.fetched_at is not None and conversation.fetched_at > stale_before:
        return False
    if conversation.refresh_requested_at is not None and conversation.refresh_requested_at >= stale_before:
        return False  # already queued (the row comes from the cached event page, renewed by the claim)
    claimed = EventConversation.objects.filter(pk=conversation.pk).filter(
        Q(refresh_requested_at__isnull=True) | Q(refresh_requested_at__lt=stale_before)).update(
        refresh_requested_at=now)
    if claimed:
        task_on_commit("elonara.refresh_conversation", conversation.event_id)
    return bool(claimed)


def _labels_hide(labels: Any) -> bool:
    if not isinstance(labels, list):
        return False
    return any(isinstance(label, dict) and label.get("val") in HIDING_LABELS and not label.get("neg")
               for label in labels)


def _visible_post(node: Any) -> dict[str, Any] | None:
    """The post of a thread node, or None when it must not be shown."""
    if not isinstance(node, dict) or node.get("$type") not in (None, "app.bsky.feed.defs#threadViewPost"):
        return None  # #blockedPost, #notFoundPost and anything we do not know
    post = node.get("post")
    if not isinstance(post, dict) or not isinstance(post.get("author"), dict):
        return None
    author = post["author"]
    viewer = author.get("viewer")
    viewer = viewer if isinstance(viewer, dict) else {}
    if viewer.get("muted") or viewer.get("blockedBy") or viewer.get("blocking") or viewer.get("blockingByList"):
        return None
    if _labels_hide(post.get("labels")) or _labels_hide(author.get("labels")):
        return None
    record = post.get("record")
    record = record if isinstance(record, dict) else {}
    did = author.get("did")
    uri = post.get("uri")
    if not isinstance(did, str) or not is_did(did) or not isinstance(uri, str) or not uri.startswith("at://"):
        return None  # untrusted input: these end up in links on the page
    avatar = author.get("avatar")
    avatar = avatar if isinstance(avatar, str) else ""
    return {
        "uri": uri,
        "did": did,
        "handle": str(author.get("handle") or "")[:253],
        "display_name": str(author.get("displayName") or "")[:64],
        "avatar": avatar if avatar.startswith("https://") else "",
        "text": str(record.get("text") or "")[:3000],
        "created_at": str(record.get("createdAt") or post.get("indexedAt") or "")[:40],
        "reply_count": reply_count if isinstance(reply_count := post.get("replyCount"), int) else 0,
    }


def thread_replies(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The shown replies of a getPostThread answer, depth first, each with its depth (1 = direct)."""
    replies: list[dict[str, Any]] = []

    def walk(node: Any, depth: int) -> None:
        for child in (node.get("replies") or []) if isinstance(node, dict) else []:
            if len(replies) >= MAX_REPLIES:
                return
            post = _visible_post(child)
            if post is None:
                continue  # a hidden reply hides what answers it too
            replies.append({**post, "depth": depth})
            walk(child, depth + 1)

    walk(body.get("thread"), 1)
    return replies


def conversation_refresh(*, event_id: int) -> EventConversation | None:
    """Read the thread once (within the site-wide budget) and store what may be shown."""
    conversation = EventConversation.objects.filter(event_id=event_id).first()
    if conversation is None:
        return None
    try:
        rate_limit_hit(limit=Limit.named("conversation"), keys=["site"])
    except RateLimitedError:
        # Out of budget: keep what is stored; the next stale view asks again.
        EventConversation.objects.filter(pk=conversation.pk).update(refresh_requested_at=None)
        return conversation
    url = settings.BLUESKY_APPVIEW_URL.rstrip("/") + "/xrpc/app.bsky.feed.getPostThread"
    try:
        body, _response = clients.safe_http_client().get_json(
            url, params={"uri": conversation.post_uri, "depth": THREAD_DEPTH, "parentHeight": 0})
    except AtprotoError as exc:
        logger.info("conversation not read", extra={"event": event_id, "error": type(exc).__name__})
        EventConversation.objects.filter(pk=conversation.pk).update(
            last_error="Bluesky did not answer; the replies shown may be out of date.", fetched_at=timezone.now())
        return EventConversation.objects.get(pk=conversation.pk)
    root = _visible_post(body.get("thread"))
    replies = thread_replies(body) if root is not None else []
    EventConversation.objects.filter(pk=conversation.pk).update(
        replies=replies, reply_count=root["reply_count"] if root else 0, fetched_at=timezone.now(),
        last_error="" if root is not None else "The post is not available on Bluesky.")
    return EventConversation.objects.get(pk=conversation.pk)
