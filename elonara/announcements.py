"""The event's announcement post, written by Elonara from the host's own Bluesky account.

When the host ticks the box on publishing, a post with the event's link card (title, one line of
when and where, the cover as thumbnail) is written in the host's repository (their OAuth grant or
their own app password, never the relay: the post speaks as the host) through the write pipeline,
so it is paced by the host's write budget and written exactly once (a record key fixed before the
first attempt, createdAt frozen at it). Once written it is the event's conversation at once
(`EventConversation`), exactly as if the host had pasted its link. A time change or a cancellation
can be a reply in its thread (the host chooses on the form); deleting the event can delete the post.

State lives on the event row (`announce_*`); the pipeline holds only the due time of the next attempt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Coalesce
from django.utils import timezone, translation

from bluesky import pipeline
from bluesky.errors import Reason
from bluesky.models import RecordWrite
from bluesky.pipeline import Outcome
from bluesky.records import (
    EMBED_EXTERNAL,
    FACET_LINK,
    MAX_GRAPHEMES,
    POST_NSID,
    BlobUpload,
    at_datetime,
    grapheme_count,
    graphemes,
    tid_now,
)
from bluesky.selectors import identity_grant_gaps
from core.i18n import language_tag
from core.tasks import task_named
from elonara.cards import LinkCard, event_link_card, event_when_text
from elonara.errors import NotAllowedError
from elonara.models import Event, EventConversation, PublishState
from members.models import Member

logger = logging.getLogger(__name__)

NO_ACCOUNT_REASON = ("Connect your Bluesky account (or add an app password) on your profile: the post is "
                     "written from your own account.")
ELLIPSIS = "…"
CONVERSATION_FIRST_READ_SECONDS = 5.0


# --- what the host sees before choosing ---------------------------------------------------------

def announcement_unavailable_reason(*, host: Member) -> str:
    """Why the box cannot be ticked ("" when the host has an account of their own that can post)."""
    return NO_ACCOUNT_REASON if pipeline.record_agent_for(host) is None else ""


def announcement_delete_gaps(*, event: Event) -> tuple[str, ...]:
    """What the host's OAuth grant lacks to delete the announcement post (words for "Reconnect
    Bluesky to allow ..."): a grant given before Elonara asked for deleting posts. Empty when there
    is no post of ours, or the post would be deleted with an app password (no scope limits it)."""
    if not event.announce_rkey:
        return ()
    chosen = pipeline.record_agent_for(event.host)
    if chosen is None or chosen[1].kind != "oauth":
        return ()
    return identity_grant_gaps(member=event.host, features=("delete_posts",))


def announcement_default(*, host: Member) -> bool:
    """The box starts as the host left it last time they published (unticked the first time)."""
    last = (Event.objects.filter(host=host, announce_wanted__isnull=False)
            .order_by("-created_at", "-pk").values_list("announce_wanted", flat=True).first())
    return bool(last)


# --- composing (pure) ---------------------------------------------------------------------------

def _shorten(text: str, *, max_graphemes: int) -> str:
    if grapheme_count(text) <= max_graphemes:
        return text
    if max_graphemes < 1:
        return ""
    return "".join(graphemes(text)[: max_graphemes - 1]).rstrip() + ELLIPSIS


def _with_link(lead: str, url: str, *, created_at: datetime) -> dict:
    """A post of `lead` (shortened to fit) then the link on its own line, the link a facet
    (UTF-8 byte offsets, end exclusive: what Bluesky's clients slice by)."""
    room = MAX_GRAPHEMES - grapheme_count(url) - 1
    lead = _shorten(lead, max_graphemes=room)
    text = f"{lead}\n{url}" if lead else url
    start = len(text.encode("utf-8")) - len(url.encode("utf-8"))
    return {
        "$type": POST_NSID,
        "text": text,
        "facets": [{"index": {"byteStart": start, "byteEnd": start + len(url.encode("utf-8"))},
                    "features": [{"$type": FACET_LINK, "uri": url}]}],
        "createdAt": at_datetime(created_at),
    }


def announcement_record(*, card: LinkCard, when: str, created_at: datetime, langs: list[str] | None = None) -> dict:
    """The announcement post: the event's title and when, its link, and its link card (the
    thumbnail is uploaded by the posting session just before writing). `langs`: the event's
    language as BCP-47 (`event_langs`), so Bluesky's language filters and feeds can place it."""
    record = _with_link(f"{card.title}\n{when}", card.url, created_at=created_at)
    if langs:
        record["langs"] = langs
    record["embed"] = {"$type": EMBED_EXTERNAL,
                       "external": {"uri": card.url, "title": card.title, "description": card.description}}
    return record


def event_langs(event: Event) -> list[str]:
    """The `langs` of the posts about an event: its language (Event.language) as BCP-47."""
    return [language_tag(event.language or settings.LANGUAGE_CODE)]


def reply_text_for_time_change(*, event: Event) -> str:
    # In the event's language, whoever edits it (the reply is stored as text and posted later).
    with translation.override(event.language or settings.LANGUAGE_CODE):
        return f"New time: {event_when_text(event)}"


def reply_text_for_cancellation(*, event: Event) -> str:
    with translation.override(event.language or settings.LANGUAGE_CODE):
        return f"Cancelled: {event.title} will not take place."


def announcement_reply_record(*, text: str, url: str, root_uri: str, root_cid: str, created_at: datetime,
                              langs: list[str] | None = None) -> dict:
    record = _with_link(text, url, created_at=created_at)
    if langs:
        record["langs"] = langs
    # Each reply answers the announcement itself: the thread stays one level deep, easy to read.
    ref = {"uri": root_uri, "cid": root_cid}
    record["reply"] = {"root": ref, "parent": ref}
    return record


# --- queueing (inside the caller's transaction) ------------------------------------------------

def announcement_queue(*, event: Event) -> bool:
    """Ask for the announcement post (once per event). False: the host has no account of their own."""
    if pipeline.record_agent_for(event.host) is None:
        return False
    rkey = event.announce_rkey or tid_now()
    Event.objects.filter(pk=event.pk).update(announce_rkey=rkey, announce_state=PublishState.PENDING,
                                             announce_error="")
    event.announce_rkey, event.announce_state, event.announce_error = rkey, PublishState.PENDING, ""
    pipeline.record_write_queue(kind=RecordWrite.Kind.ANNOUNCE, member_id=event.host_id, object_id=event.pk)
    return True


def announcement_reply_queue(*, event: Event, text: str) -> bool:
    """Ask for a reply in the announcement's thread (a new record each time it is asked). False:
    there is no announcement post of ours to reply to, or no account to write with."""
    if not announcement_can_reply(event=event):
        return False
    if pipeline.record_agent_for(event.host) is None:
        return False
    fields = {"announce_reply_rkey": tid_now(), "announce_reply_text": text[:300],
              "announce_reply_state": PublishState.PENDING, "announce_reply_uri": "",
              "announce_reply_created_at": None}
    Event.objects.filter(pk=event.pk).update(**fields)
    for name, value in fields.items():
        setattr(event, name, value)
    pipeline.record_write_queue(kind=RecordWrite.Kind.ANNOUNCE_REPLY, member_id=event.host_id, object_id=event.pk)
    return True


def announcement_delete_queue(*, event: Event) -> bool:
    """Delete the announcement post with the event (and the reply we wrote in its thread)."""
    if not event.announce_rkey:
        return False
    pipeline.record_write_queue(kind=RecordWrite.Kind.DELETE, member_id=event.host_id, collection=POST_NSID,
                                rkey=event.announce_rkey)
    if event.announce_reply_rkey:
        pipeline.record_write_queue(kind=RecordWrite.Kind.DELETE, member_id=event.host_id, collection=POST_NSID,
                                    rkey=event.announce_reply_rkey)
    return True


# --- one attempt each: load, pace, compose, write, settle ---------------------------------------

def _thumb(card: LinkCard) -> BlobUpload | None:
    image = card.image
    return BlobUpload(data=image.data, mime_type=image.mime_type) if image is not None and image.data else None


def announcement_publish(*, event_id: int, slot_at: float | None = None,
                         count_attempt: Callable[[], int] = lambda: 1) -> Outcome:
    """Write the announcement post (safe to run any number of times: fixed key, frozen createdAt)."""
    event = Event.objects.select_related("host").filter(pk=event_id).first()
    if event is None or not event.announce_rkey or event.announce_state == PublishState.PUBLISHED:
        return Outcome.done("missing" if event is None else "done")
    chosen = pipeline.record_agent_for(event.host)
    if chosen is None:
        return _failed(event_id, Outcome.failed(Reason.NOT_CONNECTED, NO_ACCOUNT_REASON))
    agent, account = chosen
    waiting = pipeline.pace(account_key=account.key, slot_at=slot_at, state=PublishState.PENDING)
    if waiting is not None:
        return waiting
    Event.objects.filter(pk=event_id).update(announce_created_at=Coalesce("announce_created_at",
                                                                          Value(timezone.now())))
    event.refresh_from_db(fields=["announce_created_at"])
    attempt = count_attempt()
    # Written in the event's language (the card's date and the time), whatever the worker's.
    with translation.override(event.language or settings.LANGUAGE_CODE):
        card = event_link_card(event=event, with_image_bytes=True)
        record = announcement_record(card=card, when=event_when_text(event), created_at=event.announce_created_at,
                                     langs=event_langs(event))
    result = agent.own_post_create_for_member(event.host, record, rkey=event.announce_rkey, thumb=_thumb(card))
    if result.success:
        with transaction.atomic():
            Event.objects.filter(pk=event_id).update(announce_uri=result.uri, announce_cid=result.cid,
                                                     announce_state=PublishState.PUBLISHED, announce_error="")
            _conversation_start(event=event, uri=result.uri)
        return Outcome.done(PublishState.PUBLISHED)
    outcome = pipeline.after_failure(result, attempt=attempt, account_key=account.key, state=PublishState.PENDING)
    if outcome.kind == "failed":
        return _failed(event_id, outcome)
    Event.objects.filter(pk=event_id).update(announce_error=outcome.message[:300])
    return outcome


def _failed(event_id: int, outcome: Outcome) -> Outcome:
    Event.objects.filter(pk=event_id).update(announce_state=PublishState.FAILED, announce_error=outcome.message[:300])
    logger.info("announcement not posted", extra={"event": event_id, "reason": outcome.reason})
    return outcome.with_state(PublishState.FAILED)


def _conversation_start(*, event: Event, uri: str) -> None:
    """The post becomes the event's conversation, as if the host had pasted its link (a link the
    host pasted themselves is kept: they chose that one)."""
    existing = EventConversation.objects.filter(event_id=event.pk).first()
    if existing is not None and existing.post_uri != uri:
        return
    EventConversation.objects.update_or_create(
        event_id=event.pk, defaults={"post_uri": uri, "replies": [], "reply_count": 0, "fetched_at": None,
                                     "refresh_requested_at": timezone.now(), "last_error": "",
                                     "set_by": event.host})
    # Read a few seconds later, not at once: the App View indexes a new post from the firehose a
    # moment after the PDS wrote it, and a read before that would show "not available" until the
    # next refresh. Kept within the dispatch horizon (no long countdown sits in the broker).
    delay = min(CONVERSATION_FIRST_READ_SECONDS, pipeline.dispatch_horizon())
    event_id = event.pk
    transaction.on_commit(lambda: task_named("elonara.refresh_conversation").apply_async(
        args=[event_id], countdown=delay))


def announcement_reply_publish(*, event_id: int, slot_at: float | None = None,
                               count_attempt: Callable[[], int] = lambda: 1) -> Outcome:
    """Write the pending reply in the announcement's thread (fixed key, frozen createdAt)."""
    event = Event.objects.select_related("host").filter(pk=event_id).first()
    if event is None or not event.announce_reply_rkey or event.announce_reply_state != PublishState.PENDING:
        return Outcome.done("missing" if event is None else "done")
    if not event.announce_uri or not event.announce_cid:
        if event.announce_state == PublishState.PENDING:
            # The announcement is not written yet: try again after it (its own wait is short).
            return Outcome.wait(timezone.now().timestamp() + 5, state=PublishState.PENDING)
        Event.objects.filter(pk=event_id).update(announce_reply_state=PublishState.FAILED)
        return Outcome.failed(Reason.INVALID_RECORD, "The announcement post was not written.")
    chosen = pipeline.record_agent_for(event.host)
    if chosen is None:
        Event.objects.filter(pk=event_id).update(announce_reply_state=PublishState.FAILED)
        return Outcome.failed(Reason.NOT_CONNECTED, NO_ACCOUNT_REASON)
    agent, account = chosen
    waiting = pipeline.pace(account_key=account.key, slot_at=slot_at, state=PublishState.PENDING)
    if waiting is not None:
        return waiting
    Event.objects.filter(pk=event_id).update(announce_reply_created_at=Coalesce("announce_reply_created_at",
                                                                                Value(timezone.now())))
    event.refresh_from_db(fields=["announce_reply_created_at"])
    record = announcement_reply_record(
        text=event.announce_reply_text, url=event_link_card(event=event, with_image_bytes=False).url,
        root_uri=event.announce_uri, root_cid=event.announce_cid, created_at=event.announce_reply_created_at,
        langs=event_langs(event))
    rkey = event.announce_reply_rkey
    attempt = count_attempt()
    result = agent.own_post_create_for_member(event.host, record, rkey=rkey)
    if result.success:
        # Only if no newer reply was asked for meanwhile (that one has its own key and write).
        Event.objects.filter(pk=event_id, announce_reply_rkey=rkey).update(
            announce_reply_uri=result.uri, announce_reply_state=PublishState.PUBLISHED)
        return Outcome.done(PublishState.PUBLISHED)
    outcome = pipeline.after_failure(result, attempt=attempt, account_key=account.key,
                                     state=PublishState.PENDING)
    if outcome.kind == "failed":
        Event.objects.filter(pk=event_id, announce_reply_rkey=rkey).update(announce_reply_state=PublishState.FAILED)
        return outcome.with_state(PublishState.FAILED)
    return outcome


# --- the pipeline's writers ---------------------------------------------------------------------

def _announce_writer(job: RecordWrite) -> Outcome:
    return announcement_publish(event_id=job.object_id or 0, slot_at=pipeline.job_slot_at(job),
                                count_attempt=lambda: pipeline.record_write_count_attempt(job))


def _announce_reply_writer(job: RecordWrite) -> Outcome:
    return announcement_reply_publish(event_id=job.object_id or 0, slot_at=pipeline.job_slot_at(job),
                                      count_attempt=lambda: pipeline.record_write_count_attempt(job))


def register_writers() -> None:
    """Called once by the app's ready()."""
    pipeline.register_writer(RecordWrite.Kind.ANNOUNCE, _announce_writer)
    pipeline.register_writer(RecordWrite.Kind.ANNOUNCE_REPLY, _announce_reply_writer)


# --- the host's choices (services the views call) -----------------------------------------------

@transaction.atomic
def announcement_choose(*, event: Event, host: Member, wanted: bool) -> bool:
    """The host's choice on publishing, remembered for their next event; when ticked (and they
    have an account of their own), the announcement post is queued. True: it is."""
    if event.host_id != host.pk:
        return False
    Event.objects.filter(pk=event.pk).update(announce_wanted=wanted)
    event.announce_wanted = wanted
    return bool(wanted) and announcement_queue(event=event)


@transaction.atomic
def announcement_retry(*, event: Event, actor: Member) -> bool:
    """The host asks again for an announcement that failed: the same post (its record key kept, so
    it is never written twice), its attempts counted afresh, through the same pipeline and budget.
    True: queued. False: it had not failed, or no account of the host's can post now."""
    if event.host_id != actor.pk:
        raise NotAllowedError("Only the host can post the announcement: it is written from their account.")
    current = Event.objects.select_for_update().select_related("host").filter(pk=event.pk).first()
    if current is None or current.announce_state != PublishState.FAILED:
        return False
    pipeline.record_write_reset_attempts(kind=RecordWrite.Kind.ANNOUNCE, object_id=current.pk)
    queued = announcement_queue(event=current)
    event.announce_state, event.announce_error = current.announce_state, current.announce_error
    return queued


@dataclass(frozen=True)
class AnnouncementStatus:
    """Where the announcement post stands, as the API says it: `state` none | pending | posted |
    failed; `uri` its at:// address once posted; `reason` why it failed (for the host and co-hosts)."""

    state: str
    uri: str
    reason: str


_STATUS_WORDS = {PublishState.NONE: "none", PublishState.PENDING: "pending", PublishState.PUBLISHED: "posted",
                 PublishState.FAILED: "failed"}


def announcement_status(*, event: Event, with_reason: bool) -> AnnouncementStatus:
    state = _STATUS_WORDS.get(PublishState(event.announce_state or ""), "none")
    return AnnouncementStatus(state=state, uri=event.announce_uri if state == "posted" else "",
                              reason=event.announce_error if with_reason and state == "failed" else "")


def announcement_can_reply(*, event: Event) -> bool:
    """Whether a reply can be asked for: Elonara wrote (or is writing) the event's announcement."""
    return bool(event.announce_rkey) and event.announce_state in (PublishState.PENDING, PublishState.PUBLISHED)
