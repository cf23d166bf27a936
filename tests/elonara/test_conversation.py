"""The event's conversation without the network: what of an App View thread is shown (blocked,
missing, muted and labelled posts are not), links that name a post, one refresh per period and
a site-wide budget. The real App View is exercised in test_conversation_peer.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bluesky import clients
from core.page_cache import _versions_renew
from elonara import conversation, services
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import EventConversation
from members.models import Member

pytestmark = pytest.mark.django_db
DID = "did:plc:abcdefghijklmnopqrstuvwx"


def _post(text: str, *, did: str = DID, handle: str = "ann.test", labels=None, author_labels=None, viewer=None,
          replies=None, type_="app.bsky.feed.defs#threadViewPost") -> dict:
    author = {"did": did, "handle": handle, "displayName": handle.split(".")[0].title(), "labels": author_labels or []}
    if viewer is not None:
        author["viewer"] = viewer
    return {"$type": type_, "post": {"uri": f"at://{did}/app.bsky.feed.post/3k{len(text)}", "author": author,
                                     "record": {"text": text, "createdAt": "2027-01-01T10:00:00Z"},
                                     "labels": labels or [], "replyCount": len(replies or [])},
            "replies": replies or []}


def test_only_what_may_be_shown_is_kept():
    body = {"thread": _post("root", replies=[
        _post("plain reply", replies=[_post("nested answer")]),
        {"$type": "app.bsky.feed.defs#blockedPost", "uri": "at://x/app.bsky.feed.post/1", "blocked": True},
        {"$type": "app.bsky.feed.defs#notFoundPost", "uri": "at://x/app.bsky.feed.post/2", "notFound": True},
        _post("muted author", viewer={"muted": True}),
        _post("blocked by author", viewer={"blockedBy": True}),
        _post("spam post", labels=[{"val": "spam", "src": DID}]),
        _post("label taken back", labels=[{"val": "porn", "src": DID, "neg": True}]),
        _post("hidden author", author_labels=[{"val": "!hide", "src": DID}], replies=[_post("under hidden")]),
        _post("bad did", did="not-a-did"),
    ])}
    shown = conversation.thread_replies(body)
    assert [(r["text"], r["depth"]) for r in shown] == [("plain reply", 1), ("nested answer", 2),
                                                        ("label taken back", 1)]
    assert shown[0]["handle"] == "ann.test" and shown[0]["did"] == DID


def test_post_links():
    assert conversation.post_uri_parse(link="https://bsky.app/profile/ann.test/post/3kabc") == ("ann.test", "3kabc")
    assert conversation.post_uri_parse(link=f"at://{DID}/app.bsky.feed.post/3kabc") == (DID, "3kabc")
    for bad in ("https://evil.example/profile/a.test/post/1", "at://x/app.bsky.feed.like/1", "javascript:x",
                "https://bsky.app/profile/not_a_handle/post/1"):
        with pytest.raises(InvalidInputError):
            conversation.post_uri_parse(link=bad)
    assert conversation.post_web_url(f"at://{DID}/app.bsky.feed.post/3kabc") == \
        f"https://bsky.app/profile/{DID}/post/3kabc"


@pytest.fixture
def event_with_post(settings):
    settings.ATPROTO_ALLOW_INSECURE_HOSTS = True
    settings.BLUESKY_APPVIEW_URL = "http://127.0.0.1:9"  # nothing listens: every read fails fast
    clients.reset()
    host = Member.objects.create_user(username="host", password="pw-long-enough-123")
    start = timezone.now() + timedelta(days=2)
    event = services.event_create(host=host, title="Go", starts_at=start, ends_at=start + timedelta(hours=1),
                                  venue="Club")
    conversation.conversation_set(event=event, actor=host, link=f"at://{DID}/app.bsky.feed.post/3kabc")
    yield event
    clients.reset()


def test_only_hosts_link_a_post_and_the_page_shows_the_stored_replies(client, event_with_post):
    event = event_with_post
    stranger = Member.objects.create_user(username="x", password="pw-long-enough-123")
    with pytest.raises(NotAllowedError):
        conversation.conversation_set(event=event, actor=stranger, link=f"at://{DID}/app.bsky.feed.post/3k")
    EventConversation.objects.filter(event=event).update(
        replies=[{"uri": "at://a/b/c", "did": DID, "handle": "ann.test", "display_name": "<b>Ann</b>",
                  "avatar": "", "text": "See you <script>", "created_at": "", "reply_count": 0, "depth": 1}],
        reply_count=1, fetched_at=timezone.now())
    page = client.get(event.get_absolute_url()).content.decode()
    assert "See you &lt;script&gt;" in page and "&lt;b&gt;Ann&lt;/b&gt;" in page
    assert f"https://bsky.app/profile/{DID}/post/3kabc" in page and 'id="conversation-form"' not in page
    client.force_login(event.host)
    assert 'id="conversation-form"' in client.get(event.get_absolute_url()).content.decode()


def test_a_stale_conversation_is_refreshed_once_per_period(event_with_post, django_capture_on_commit_callbacks):
    row = EventConversation.objects.get(event=event_with_post)
    now = timezone.now()
    EventConversation.objects.filter(pk=row.pk).update(fetched_at=now - timedelta(minutes=10),
                                                       refresh_requested_at=now - timedelta(minutes=10))
    row.refresh_from_db()
    with django_capture_on_commit_callbacks() as queued:
        assert conversation.conversation_refresh_if_stale(conversation=row, now=now) is True
        assert conversation.conversation_refresh_if_stale(conversation=row, now=now) is False  # already claimed
    # One refresh task (the other callbacks renew the cached event page: core.page_cache).
    assert len([c for c in queued if getattr(c, "func", None) is not _versions_renew]) == 1
    EventConversation.objects.filter(pk=row.pk).update(fetched_at=now)
    row.refresh_from_db()
    assert conversation.conversation_refresh_if_stale(conversation=row, now=now) is False  # fresh


def test_the_site_wide_budget_bounds_the_reads(settings, event_with_post):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "conversation": (1, 60)}
    first = conversation.conversation_refresh(event_id=event_with_post.pk)
    assert first.fetched_at is not None and "did not answer" in first.last_error  # one read was made (and failed)
    EventConversation.objects.filter(pk=first.pk).update(fetched_at=None, last_error="")
    second = conversation.conversation_refresh(event_id=event_with_post.pk)
    assert second.fetched_at is None and second.last_error == ""  # no read: out of budget
