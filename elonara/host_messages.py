"""Messages the host or a co-host writes to the guests ("we moved to room 4").

A message is a row (shown on the event page as "Updates from the host") and, once it commits,
one mail per recipient queued by notifications' `host_message_sent` receiver (its own topic,
one-click unsubscribe, sent once by the dispatcher). Rate limited per host and event: a mail to everyone
is not something to repeat many times an hour.

When the event has a Bluesky thread (the announcement Elonara wrote, or a post the host linked),
the host may also post the message as a reply in it: from their own account (their OAuth grant or
their own app password, never the relay: the reply speaks as the host), through the write
pipeline (paced by the host's write budget, written once under a record key fixed when asked).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext

from bluesky import clients, pipeline
from bluesky.atproto import AtprotoError
from bluesky.atproto.syntax import is_valid_at_uri, is_valid_cid
from bluesky.errors import Reason
from bluesky.models import RecordWrite
from bluesky.pipeline import Outcome
from bluesky.records import POST_NSID, tid_now
from core.ratelimit import Limit, rate_limit_hit
from elonara.announcements import NO_ACCOUNT_REASON, announcement_can_reply, announcement_reply_record
from elonara.cards import event_link_card
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Event, EventConversation, HostMessage, PublishState
from elonara.selectors import event_can_manage
from members.models import Member

logger = logging.getLogger(__name__)

BODY_MAX = 2000
# Sent once a message commits (notifications mails it to the guests it was written to).
host_message_sent = Signal()  # kwargs: message
# Who sees the updates on the event page: the groups a message can be written to.
READERS = HostMessage.GROUPS


@transaction.atomic
def host_message_send(*, event: Event, actor: Member, body: str, groups: list[str],
                      also_reply: bool = False) -> HostMessage:
    """Write to the chosen groups (going, maybe, waitlisted, requested). Checked, counted against
    the host's limit, then saved with its mail queued (sent after commit). `also_reply`: also a
    reply in the event's Bluesky thread (refused unless `host_message_reply_unavailable_reason`
    is empty), queued in the write pipeline."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can write to the guests."))
    if event.status == Event.Status.CANCELLED:
        raise NotAllowedError(gettext("This event is cancelled."))
    body = body.strip()
    if not body:
        raise InvalidInputError(gettext("Write the message."), field="body")
    if len(body) > BODY_MAX:
        raise InvalidInputError(f"Keep the message under {BODY_MAX} characters.", field="body")
    chosen = [g for g in HostMessage.GROUPS if g in groups]
    if not chosen or len(chosen) != len(set(groups)):
        raise InvalidInputError(gettext("Choose who gets the message."), field="groups")
    if also_reply and (why_not := host_message_reply_unavailable_reason(event=event, actor=actor)):
        raise InvalidInputError(why_not, field="also_reply")
    # Counted last, once the message is valid: a typo refused above does not use up the limit.
    rate_limit_hit(limit=Limit.named("host_message"), keys=[f"event:{event.pk}:member:{actor.pk}"])
    reply = {"reply_rkey": tid_now(), "reply_state": PublishState.PENDING} if also_reply else {}
    message = HostMessage.objects.create(event=event, author=actor, body=body, groups=chosen, **reply)
    transaction.on_commit(partial(host_message_sent.send, sender=HostMessage, message=message))
    if also_reply:
        pipeline.record_write_queue(kind=RecordWrite.Kind.MESSAGE_REPLY, member_id=event.host_id, object_id=message.pk)
    return message


def host_messages_for(*, event: Event, member: Member | None) -> list[HostMessage]:
    """The updates a viewer may read, newest first: the hosts see every one; a guest those written
    to a group they are in now."""
    if member is None or not member.is_authenticated:
        return []
    messages = list(HostMessage.objects.filter(event=event).select_related("author"))
    if not messages or event_can_manage(event=event, member=member):
        return messages
    status = RSVP.objects.filter(event=event, member=member).values_list("status", flat=True).first()
    return host_messages_readable(messages=messages, status=status, is_manager=False)


def host_messages_readable(*, messages: list[HostMessage], status: str | None, is_manager: bool) -> list[HostMessage]:
    """Of the event's messages, those for a reader whose answer is `status`."""
    return messages if is_manager else [m for m in messages if status in m.groups]


# --- also a reply in the event's Bluesky thread --------------------------------------------------

REPLY_HOST_ONLY = "Only the host replies in the event's Bluesky thread: the reply is written from their own account."
REPLY_NO_THREAD = ("The event has no Bluesky post yet: announce the event or link its post on the event page to "
                   "reply in its thread.")
NOT_AVAILABLE = "The post of the event's thread is not available on Bluesky."
# A thread read from the App View that fails (it did not answer) is tried again a few times.
THREAD_READ_ATTEMPTS = 5


def host_message_reply_unavailable_reason(*, event: Event, actor: Member) -> str:
    """Why "also post as a reply in the event's Bluesky thread" is not offered to `actor` ("": it
    is). Only the host: the thread is theirs, and a co-host's message must not speak as them."""
    if actor.pk != event.host_id:
        return REPLY_HOST_ONLY
    if not announcement_can_reply(event=event) and not EventConversation.objects.filter(event_id=event.pk).exists():
        return REPLY_NO_THREAD
    if pipeline.record_agent_for(actor) is None:
        return NO_ACCOUNT_REASON
    return ""


def _strong_ref(value: Any) -> dict[str, str] | None:
    # untrusted input (the App View's answer): only a well-formed at-uri and CID go in our record.
    if isinstance(value, dict) and is_valid_at_uri(str(value.get("uri", ""))) and is_valid_cid(
            str(value.get("cid", ""))):
        return {"uri": value["uri"], "cid": value["cid"]}
    return None


def _linked_post_refs(*, uri: str, count_attempt: Callable[[], int]) -> tuple[dict, dict] | Outcome:
    """Root and parent of a reply to the post the host linked, read from the App View: the post
    itself is the parent; its own thread's root (when it is a reply) stays the root."""
    url = settings.BLUESKY_APPVIEW_URL.rstrip("/") + "/xrpc/app.bsky.feed.getPosts"
    try:
        body, _response = clients.safe_http_client().get_json(url, params={"uris": [uri]})
    except AtprotoError as exc:
        attempt = count_attempt()
        if attempt >= THREAD_READ_ATTEMPTS:
            return Outcome.failed(Reason.TRANSPORT, "Bluesky did not answer when the thread was read.", retryable=True)
        logger.info("thread not read", extra={"failure": type(exc).__name__})
        return Outcome.wait(time.time() + pipeline.backoff(attempt), state=PublishState.PENDING)
    posts = body.get("posts")
    found = next((p for p in posts if isinstance(p, dict) and p.get("uri") == uri), None) if isinstance(
        posts, list) else None
    parent = _strong_ref(found)
    if parent is None:
        return Outcome.failed(Reason.INVALID_RECORD, NOT_AVAILABLE)
    record = found.get("record") if isinstance(found, dict) else None
    reply = record.get("reply") if isinstance(record, dict) else None
    root = _strong_ref(reply.get("root")) if isinstance(reply, dict) else None
    return root or parent, parent


def _thread_refs(*, event: Event, count_attempt: Callable[[], int]) -> tuple[dict, dict] | Outcome:
    """The reply's root and parent: the event's conversation (the announcement we wrote, or the
    post the host linked, which they chose over it)."""
    conversation = EventConversation.objects.filter(event_id=event.pk).first()
    if event.announce_uri and event.announce_cid and (conversation is None or
                                                      conversation.post_uri == event.announce_uri):
        ref = {"uri": event.announce_uri, "cid": event.announce_cid}
        return ref, ref
    if conversation is not None:
        return _linked_post_refs(uri=conversation.post_uri, count_attempt=count_attempt)
    if event.announce_rkey and event.announce_state == PublishState.PENDING:
        # The announcement is not written yet: try again after it (its own wait is short).
        return Outcome.wait(time.time() + 5, state=PublishState.PENDING)
    return Outcome.failed(Reason.INVALID_RECORD, REPLY_NO_THREAD)


def _reply_failed(message_id: int, outcome: Outcome) -> Outcome:
    HostMessage.objects.filter(pk=message_id).update(reply_state=PublishState.FAILED,
                                                     reply_error=outcome.message[:300])
    logger.info("message reply not posted", extra={"host_message": message_id, "reason": outcome.reason})
    return outcome.with_state(PublishState.FAILED)


def host_message_reply_publish(*, message_id: int, slot_at: float | None = None,
                               count_attempt: Callable[[], int] = lambda: 1) -> Outcome:
    """Write the message as a reply in the event's thread (safe to run any number of times: fixed
    key, createdAt frozen at the first attempt)."""
    message = HostMessage.objects.select_related("event", "event__host").filter(pk=message_id).first()
    if message is None or message.reply_state != PublishState.PENDING or not message.reply_rkey:
        return Outcome.done("missing" if message is None else "done")
    event = message.event
    refs = _thread_refs(event=event, count_attempt=count_attempt)
    if isinstance(refs, Outcome):
        return _reply_failed(message_id, refs) if refs.kind == "failed" else refs
    root, parent = refs
    chosen = pipeline.record_agent_for(event.host)
    if chosen is None:
        return _reply_failed(message_id, Outcome.failed(Reason.NOT_CONNECTED, NO_ACCOUNT_REASON))
    agent, account = chosen
    waiting = pipeline.pace(account_key=account.key, slot_at=slot_at, state=PublishState.PENDING)
    if waiting is not None:
        return waiting
    HostMessage.objects.filter(pk=message_id).update(reply_created_at=Coalesce("reply_created_at",
                                                                               Value(timezone.now())))
    message.refresh_from_db(fields=["reply_created_at"])
    record = announcement_reply_record(
        text=message.body, url=event_link_card(event=event, with_image_bytes=False).url,
        root_uri=root["uri"], root_cid=root["cid"], created_at=message.reply_created_at)
    record["reply"]["parent"] = parent  # under the linked post itself, in its own thread
    attempt = count_attempt()
    result = agent.own_post_create_for_member(event.host, record, rkey=message.reply_rkey)
    if result.success:
        HostMessage.objects.filter(pk=message_id).update(reply_uri=result.uri, reply_state=PublishState.PUBLISHED,
                                                         reply_error="")
        return Outcome.done(PublishState.PUBLISHED)
    outcome = pipeline.after_failure(result, attempt=attempt, account_key=account.key, state=PublishState.PENDING)
    if outcome.kind == "failed":
        return _reply_failed(message_id, outcome)
    HostMessage.objects.filter(pk=message_id).update(reply_error=outcome.message[:300])
    return outcome


def _message_reply_writer(job: RecordWrite) -> Outcome:
    return host_message_reply_publish(message_id=job.object_id or 0, slot_at=pipeline.job_slot_at(job),
                                      count_attempt=lambda: pipeline.record_write_count_attempt(job))


def register_writers() -> None:
    """Called once by the app's ready()."""
    pipeline.register_writer(RecordWrite.Kind.MESSAGE_REPLY, _message_reply_writer)


def host_message_replies_delete_queue(*, event: Event) -> int:
    """Delete, with the event, the replies its messages became in the thread (the host ticked it
    on deleting). A reply not written yet is never written: its message goes with the event."""
    keys = list(HostMessage.objects.filter(event=event).exclude(reply_rkey="").values_list("reply_rkey", flat=True))
    for rkey in keys:
        pipeline.record_write_queue(kind=RecordWrite.Kind.DELETE, member_id=event.host_id, collection=POST_NSID,
                                    rkey=rkey)
    return len(keys)


def host_message_replies_exist(*, event: Event) -> bool:
    return HostMessage.objects.filter(event=event).exclude(reply_rkey="").exists()
