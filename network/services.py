"""Services for network events: kept from the firehose, fetched from a pasted link, answered.

Untrusted input throughout: records are validated against the bundled lexicon and bounded
(network.records) before anything is stored; an invalid one is counted (metric) and dropped.
Profiles and follows are read outside the firehose consumer's loop, in tasks, through the
SSRF-safe client.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext

from bluesky import clients, pipeline
from bluesky.atproto import AtprotoError
from bluesky.atproto.firehose import RecordOp
from bluesky.atproto.nsid import EVENT_NSID, RSVP_NSID
from bluesky.atproto.syntax import is_account_did, is_valid_record_key
from bluesky.atproto.xrpc import PdsClient
from bluesky.lexicon import record_problems
from bluesky.models import RecordWrite
from bluesky.pipeline import Outcome
from bluesky.records import is_did
from bluesky.selectors import member_id_for_did_sql
from core import metrics
from core.tasks import task_named, task_on_commit
from elonara import atrecords
from elonara.errors import ElonaraError, InvalidInputError
from elonara.models import Event, PublishState
from members.models import Member
from network.links import LinkNotUnderstood, link_parse
from network.models import (
    Creator,
    FollowedAccount,
    FollowSync,
    HiddenCreator,
    NetworkAnswer,
    NetworkEvent,
    NetworkEventReport,
    NetworkRSVP,
)
from network.records import EventFields, RecordRejected, event_fields, hiding_label, profile_label_values

logger = logging.getLogger(__name__)

# Kept until this long after they end (then the clean-up removes them).
KEEP_AFTER_END = timedelta(days=1)
PROFILE_TTL = timedelta(hours=24)
# A failed profile read is not tried again sooner than this.
PROFILE_RETRY = timedelta(hours=1)
FOLLOWS_TTL = timedelta(hours=1)
FOLLOWS_MAX_PAGES = 50
# The table's size is counted at most this often by the consumer (a COUNT per event is too much).
_COUNT_EVERY_SECONDS = 60.0
_count_cache: dict[str, float] = {"at": 0.0, "n": 0.0}

_ANSWER_STATUS = {f"{RSVP_NSID}#going": NetworkAnswer.Status.GOING,
                  f"{RSVP_NSID}#interested": NetworkAnswer.Status.INTERESTED,
                  f"{RSVP_NSID}#notgoing": NetworkAnswer.Status.NOT_GOING}


class NetworkEventError(ElonaraError):
    """A pasted link could not be shown. `code`: link | resolve | fetch | invalid | past | blocked."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message, field="link")
        self.code = code


# --- storing records ----------------------------------------------------------------------------

def _table_full() -> bool:
    now = time.monotonic()
    if now - _count_cache["at"] > _COUNT_EVERY_SECONDS:
        _count_cache["n"] = NetworkEvent.objects.count()
        _count_cache["at"] = now
    return _count_cache["n"] >= settings.NETWORK_EVENTS_MAX


def _queue_profile(creator: Creator) -> None:
    stale = creator.profile_checked_at is None or creator.profile_checked_at < timezone.now() - PROFILE_TTL
    if stale:
        task_on_commit("network.refresh_creator", creator.did)


def network_event_store(*, did: str, rkey: str, cid: str, record: Any, seq: int = 0) -> NetworkEvent | None:
    """Keep (or update) one event record. None: dropped (invalid, too large, over, blocked, full);
    the reason is counted. Replays of frames older than what we hold change nothing."""
    if Event.objects.filter(at_uri=f"at://{did}/{EVENT_NSID}/{rkey}").exists():
        return None  # one of our own events echoing back
    return _network_event_keep(did=did, rkey=rkey, cid=cid, record=record, seq=seq)


def _network_event_keep(*, did: str, rkey: str, cid: str, record: Any, seq: int) -> NetworkEvent | None:
    """network_event_store for a record known not to be one of our events."""
    uri = f"at://{did}/{EVENT_NSID}/{rkey}"
    try:
        fields = event_fields(record)
    except RecordRejected as rejected:
        metrics.network_event(rejected.code)
        NetworkEvent.objects.filter(uri=uri).delete()  # an update that broke it: not shown any more
        return None
    existing = NetworkEvent.objects.filter(uri=uri).first()
    if existing is not None and seq and existing.seq >= seq:
        return existing
    if fields.ends_at < timezone.now() - KEEP_AFTER_END:
        metrics.network_event("past")
        if existing is not None:
            existing.delete()
        return None
    if existing is not None:
        return _network_event_update(existing, fields=fields, cid=cid, seq=seq)
    creator, _ = Creator.objects.get_or_create(did=did)
    if creator.blocked:
        metrics.network_event("blocked")
        return None
    if _table_full():
        metrics.network_event("full")
        return None
    event = NetworkEvent.objects.create(creator=creator, uri=uri, rkey=rkey, cid=cid, seq=seq, **_columns(fields))
    _count_cache["n"] += 1
    metrics.network_event("kept")
    _queue_profile(creator)
    return event


def _network_event_update(existing: NetworkEvent, *, fields: EventFields, cid: str, seq: int) -> NetworkEvent:
    """A kept event's newer record: its shown fields replaced when the record changed (a blocked
    event or creator keeps what it had)."""
    if existing.blocked or existing.creator.blocked:
        metrics.network_event("blocked")
        return existing
    if existing.cid != cid:
        NetworkEvent.objects.filter(pk=existing.pk).update(
            cid=cid, seq=max(seq, existing.seq), revision=F("revision") + 1, updated_at=timezone.now(),
            **_columns(fields))
        metrics.network_event("updated")
    elif seq > existing.seq:
        NetworkEvent.objects.filter(pk=existing.pk).update(seq=seq)
    existing.refresh_from_db()
    return existing


def _columns(fields: EventFields) -> dict[str, Any]:
    return {"name": fields.name, "description": fields.description, "starts_at": fields.starts_at,
            "ends_at": fields.ends_at, "has_end": fields.has_end, "utc_offset_minutes": fields.utc_offset_minutes,
            "mode": fields.mode, "status": fields.status, "place": fields.place, "online_url": fields.online_url,
            "link_url": fields.link_url, "hidden_label": fields.hidden_label}


def network_event_apply(*, op: RecordOp) -> None:
    """One firehose operation on an event record that is not ours: the consumer's router has
    looked it up among our events already (called inside the consumer's transaction)."""
    if not is_account_did(op.repo) or not is_valid_record_key(op.rkey):
        metrics.network_event("invalid")
        return
    if op.action == "delete":
        deleted, _ = NetworkEvent.objects.filter(uri=op.uri, seq__lt=op.seq).delete()
        if deleted:
            metrics.network_event("deleted")
        return
    if op.record is None or not op.cid:
        return  # the block is missing from the commit: nothing to read
    # Not asked again whether it is one of ours: the router's lookup said it is not.
    _network_event_keep(did=op.repo, rkey=op.rkey, cid=op.cid, record=op.record, seq=op.seq)


def _answer_lookup(op: RecordOp, *, subject_uri: str | None) -> tuple[bool, int | None, int | None]:
    """What the consumer needs to know of an RSVP record, in one query (it asks per kept answer and
    pays a round trip per query): whether it is a member's answer we wrote, echoing back; the
    network event it answers; the answer row kept for it already (ids).

    Ours: by its address, or (the echo can come before the writer stored the address: the consumer
    is another process) by the fixed record key stored before the write, in the repository of the
    member it belongs to."""
    member, member_params = member_id_for_did_sql(did=op.repo)
    rsvps, events, answers = NetworkRSVP._meta.db_table, NetworkEvent._meta.db_table, NetworkAnswer._meta.db_table
    # Written as SQL: three answers in one row (the ORM asks them in three); our own tables' names,
    # every value a parameter.
    sql = (f'SELECT EXISTS (SELECT 1 FROM "{rsvps}" WHERE "at_uri" = %s OR ("at_rkey" = %s'  # noqa: S608
           f' AND "member_id" = ({member}))), (SELECT "id" FROM "{events}" WHERE "uri" = %s),'
           f' (SELECT "id" FROM "{answers}" WHERE "uri" = %s)')
    with connection.cursor() as cursor:
        cursor.execute(sql, [op.uri, op.rkey, *member_params, subject_uri, op.uri])
        ours, event_id, answer_id = cursor.fetchone()
    return bool(ours), event_id, answer_id


def network_answer_apply(*, op: RecordOp) -> bool:
    """An RSVP record seen on the firehose: True when it concerned a network event (or one of our
    members' answers to one) and was handled here; False: not ours to handle."""
    record = op.record if isinstance(op.record, dict) else None
    subject = record.get("subject") if record else None
    subject_uri = subject.get("uri") if isinstance(subject, dict) else None
    ours, event_id, answer_id = _answer_lookup(op, subject_uri=subject_uri if isinstance(subject_uri, str) else None)
    if ours:
        return True  # a member's answer written by us echoing back: already shown
    existing = NetworkAnswer.objects.filter(pk=answer_id).first() if answer_id is not None else None
    if op.action == "delete":
        if existing is None:
            return False
        event_id = existing.event_id
        existing.delete()
        _answers_recount(event_id=event_id)
        return True
    if event_id is None:
        if existing is not None:  # re-pointed elsewhere: no longer an answer to a network event
            existing.delete()
            _answers_recount(event_id=existing.event_id)
        return False
    status = _ANSWER_STATUS.get(str(record.get("status"))) if record else None
    if status is None or not is_account_did(op.repo) or record_problems(RSVP_NSID, record):
        return True  # about a network event, but not an answer we can read: dropped
    if existing is not None and existing.seq >= op.seq:
        return True  # replayed frame
    # The row read above is the one to change (the consumer is the only writer of these rows):
    # no second read and savepoint as update_or_create would cost.
    previous_event_id = existing.event_id if existing is not None else None
    answer = existing or NetworkAnswer(uri=op.uri)
    answer.event_id, answer.did, answer.cid, answer.status, answer.seq = event_id, op.repo, op.cid or "", status, op.seq
    answer.save()
    _answers_recount(event_id=event_id)
    if previous_event_id is not None and previous_event_id != event_id:
        _answers_recount(event_id=previous_event_id)
    return True


def _answers_recount(*, event_id: int) -> None:
    """The event's counts from its rows, in one UPDATE: answers written in other apps plus our
    members' own."""
    # Saved by key: the same UPDATE, and the same renewal of the pages showing the event
    # (pages.table's post_save row), as update() without the read of the rows it does first; the
    # consumer pays a round trip per query. update_fields: nothing else of the row is written.
    event = NetworkEvent(pk=event_id,
                         going_count=_counted(event_id, NetworkAnswer.Status.GOING, NetworkRSVP.Status.GOING),
                         interested_count=_counted(event_id, NetworkAnswer.Status.INTERESTED, NetworkRSVP.Status.MAYBE))
    event.save(update_fields=["going_count", "interested_count"])


def _counted(event_id: int, answer_status: str, rsvp_status: str) -> RawSQL:
    # Written as SQL: the same count built from Subquery/OuterRef/Coalesce took the ORM ~3 ms to
    # compile per answer (the database runs it in microseconds), most of what a kept RSVP cost
    # the firehose consumer.
    answers, rsvps = NetworkAnswer._meta.db_table, NetworkRSVP._meta.db_table
    # Our own tables' names; every value a parameter.
    return RawSQL(f'(SELECT COUNT(*) FROM "{answers}" WHERE "event_id" = %s AND "status" = %s)'  # noqa: S608, S611
                  f' + (SELECT COUNT(*) FROM "{rsvps}" WHERE "event_id" = %s AND "status" = %s)',
                  (event_id, str(answer_status), event_id, str(rsvp_status)))


def network_events_cleanup(*, now=None) -> int:
    """Remove events that ended more than a day ago, then trim to NETWORK_EVENTS_MAX (those that
    start last go first: the furthest future matters least). Returns how many went."""
    now = now or timezone.now()
    removed, _ = NetworkEvent.objects.filter(ends_at__lt=now - KEEP_AFTER_END).delete()
    excess = NetworkEvent.objects.count() - settings.NETWORK_EVENTS_MAX
    if excess > 0:
        ids = list(NetworkEvent.objects.order_by("-starts_at").values_list("pk", flat=True)[:excess])
        trimmed, _ = NetworkEvent.objects.filter(pk__in=ids).delete()
        removed += trimmed
    Creator.objects.filter(events__isnull=True, blocked=False).exclude(
        pk__in=HiddenCreator.objects.values("creator_id")).delete()
    _count_cache["at"] = 0.0
    return removed


# --- a pasted link ------------------------------------------------------------------------------

def network_event_fetch(*, link: str) -> NetworkEvent:
    """Show the event a pasted link names: resolve the account's DID to its PDS, read the record
    with com.atproto.repo.getRecord (SSRF-safe client, its size and time limits), validate, keep."""
    try:
        parsed = link_parse(link, app_hosts=settings.NETWORK_EVENT_LINK_HOSTS,
                            allow_test_tld=settings.ATPROTO_ALLOW_INSECURE_HOSTS)
    except LinkNotUnderstood as exc:
        raise NetworkEventError(gettext(str(exc)), code="link") from exc  # links marks, we translate
    if parsed.is_did:
        known = NetworkEvent.objects.filter(uri=f"at://{parsed.authority}/{EVENT_NSID}/{parsed.rkey}").first()
    else:
        known = None
    resolver = clients.identity_resolver()
    try:
        identity = resolver.resolve(parsed.authority)
    except AtprotoError as exc:
        if known is not None:
            return known
        raise NetworkEventError(gettext("The account that made this event could not be found."),
                                code="resolve") from exc
    uri = f"at://{identity.did}/{EVENT_NSID}/{parsed.rkey}"
    if (ours := Event.objects.filter(at_uri=uri).first()) is not None:
        raise _OwnEvent(ours)
    cid, record = _event_record_read(did=identity.did, pds_url=identity.pds_url, rkey=parsed.rkey, uri=uri)
    with transaction.atomic():
        creator = Creator.objects.filter(did=identity.did).first()
        event = network_event_store(did=identity.did, rkey=parsed.rkey, cid=cid, record=record)
        if event is None:
            if creator is not None and creator.blocked:
                raise NetworkEventError(gettext("Events of this account are not shown here."), code="blocked")
            raise NetworkEventError(gettext("That event is over."), code="past")
        if event.blocked:
            raise NetworkEventError(gettext("This event is not shown here."), code="blocked")
    return event


def _event_record_read(*, did: str, pds_url: str, rkey: str, uri: str) -> tuple[str, Any]:
    """(cid, record) of the event record read from the account's PDS, checked to be a calendar
    event we can show; `NetworkEventError` otherwise (a record gone from the repository is
    forgotten here too)."""
    pds = PdsClient(http=clients.safe_http_client(), pds_url=pds_url)
    try:
        body = pds.get("com.atproto.repo.getRecord", params={"repo": did, "collection": EVENT_NSID, "rkey": rkey})
    except AtprotoError as exc:
        status = getattr(exc, "status", None)
        if status == 400 and (known := NetworkEvent.objects.filter(uri=uri).first()) is not None:
            known.delete()  # gone from the repository
        message = (gettext("That event does not exist (any more).") if status in (400, 404)
                   else gettext("The event's server could not be reached; try again."))
        raise NetworkEventError(message, code="fetch") from exc
    cid = body.get("cid")
    if body.get("uri") not in (uri, None) or not isinstance(cid, str) or not cid:
        raise NetworkEventError(gettext("The event's server sent an unexpected answer."), code="fetch")
    try:
        event_fields(body.get("value"))
    except RecordRejected as rejected:
        metrics.network_event(rejected.code)
        raise NetworkEventError(gettext("That record is not a valid calendar event."), code="invalid") from rejected
    return cid, body["value"]


class _OwnEvent(NetworkEventError):
    """The link names one of our own events: the caller redirects to its page."""

    def __init__(self, event: Event) -> None:
        super().__init__(gettext("That is an event on Elonara."), code="ours")
        self.event = event


OwnEventLinked = _OwnEvent


# --- creators and follows -----------------------------------------------------------------------

def creator_profile_refresh(*, did: str) -> None:
    """Read the creator's public profile from the App View (handle, display name, avatar)."""
    creator = Creator.objects.filter(did=did).first()
    if creator is None or not is_did(did):
        return
    if creator.profile_checked_at and creator.profile_checked_at > timezone.now() - PROFILE_RETRY \
            and creator.handle:
        return
    url = f"{settings.BLUESKY_APPVIEW_URL}/xrpc/app.bsky.actor.getProfile"
    try:
        body, _response = clients.safe_http_client().get_json(url, params={"actor": did})
    except AtprotoError as exc:
        logger.info("creator profile not read", extra={"failure": type(exc).__name__})
        Creator.objects.filter(pk=creator.pk).update(profile_checked_at=timezone.now())
        return
    handle = body.get("handle") if body.get("did") == did else None
    handle = handle if isinstance(handle, str) and handle != "handle.invalid" and len(handle) <= 253 else ""
    if handle and not _handle_confirmed(did=did, handle=handle):
        handle = ""  # shown only when the handle and the DID point at each other, checked by us
    name = body.get("displayName")
    name = name if isinstance(name, str) else ""
    avatar = body.get("avatar")
    avatar = avatar if isinstance(avatar, str) else ""
    Creator.objects.filter(pk=creator.pk).update(
        handle=handle, display_name=" ".join(name.split())[:640],
        avatar_url=avatar if avatar.startswith("https://") and len(avatar) <= 1000 else "",
        # The profile's labels: its own self-labels and those of the App View's moderation services.
        hidden_label=hiding_label(profile_label_values(body.get("labels"))),
        profile_checked_at=timezone.now())


def _handle_confirmed(*, did: str, handle: str) -> bool:
    """Both ways: the DID document claims the handle, and the handle resolves to the DID."""
    try:
        identity = clients.identity_resolver().resolve(did)
    except AtprotoError:
        return False
    return identity.handle_verified and identity.handle == handle.strip().lower()


def creators_refresh_stale(*, creators: list[Creator]) -> None:
    """Queue a profile read for creators whose profile is missing or old (shown on a page)."""
    refresh_creator = task_named("network.refresh_creator")  # named: the tasks module imports this one
    cutoff = timezone.now() - PROFILE_TTL
    for creator in creators:
        if creator.profile_checked_at is None or creator.profile_checked_at < cutoff:
            try:
                refresh_creator.delay(creator.did)
            except Exception:  # noqa: BLE001 - a broker hiccup must not break the page
                logger.warning("profile refresh not queued")


def member_follows_refresh(*, member: Member) -> int:
    """Copy the accounts the member follows (their Bluesky graph) so pages can filter in SQL.

    OAuth-connected members are read through their grant (BlueskyGraphService); members who
    connected with an app password through the App View's public getFollows (follows are public)."""
    from bluesky.graph import BlueskyGraphService, GraphError
    from bluesky.selectors import member_did_get

    dids: set[str] = set()
    error = ""
    try:
        service = BlueskyGraphService()
        cursor = None
        for _ in range(FOLLOWS_MAX_PAGES):
            page = service.get_follows(member, cursor=cursor)
            dids.update(p.did for p in page.profiles)
            if not page.cursor:
                break
            cursor = page.cursor
    except GraphError as exc:
        did = member_did_get(member=member) or _app_password_did(member)
        if exc.code != "not_connected" or not did:
            error = exc.code
        else:
            try:
                dids = _public_follows(did)
            except AtprotoError as inner:
                error = getattr(inner, "code", "upstream")[:40]
    if error:
        FollowSync.objects.update_or_create(member=member, defaults={"synced_at": timezone.now(), "error": error})
        return 0
    with transaction.atomic():
        FollowedAccount.objects.filter(member=member).exclude(did__in=dids).delete()
        known = set(FollowedAccount.objects.filter(member=member).values_list("did", flat=True))
        FollowedAccount.objects.bulk_create([FollowedAccount(member=member, did=d) for d in dids - known],
                                            ignore_conflicts=True)
        FollowSync.objects.update_or_create(member=member, defaults={"synced_at": timezone.now(), "error": "",
                                                                     "count": len(dids)})
    return len(dids)


def _app_password_did(member: Member) -> str:
    from bluesky.models import MemberAppPassword

    return MemberAppPassword.objects.filter(member=member).exclude(did="").values_list("did", flat=True).first() or ""


def account_follows_read(*, did: str) -> set[str]:
    """The DIDs any account follows, from the public App View (at most FOLLOWS_MAX_PAGES pages):
    for accounts that are not our members (the feed generator's requesters)."""
    return _public_follows(did)


def _public_follows(did: str) -> set[str]:
    http = clients.safe_http_client()
    url = f"{settings.BLUESKY_APPVIEW_URL}/xrpc/app.bsky.graph.getFollows"
    found: set[str] = set()
    cursor = None
    for _ in range(FOLLOWS_MAX_PAGES):
        params = {"actor": did, "limit": 100, **({"cursor": cursor} if cursor else {})}
        body, _response = http.get_json(url, params=params)
        follows = body.get("follows")
        follows = follows if isinstance(follows, list) else []
        found.update(f["did"] for f in follows if isinstance(f, dict) and is_did(f.get("did")))
        cursor = body.get("cursor") if isinstance(body.get("cursor"), str) else None
        if not cursor or not follows:
            break
    return found


def member_follows_refresh_if_stale(*, member: Member, sync: FollowSync | None) -> None:
    if sync is not None and sync.synced_at and sync.synced_at > timezone.now() - FOLLOWS_TTL:
        return
    refresh_follows = task_named("network.refresh_follows")  # named: the tasks module imports this one
    try:
        refresh_follows.delay(member.pk)
    except Exception:  # noqa: BLE001 - a broker hiccup must not break the page
        logger.warning("follows refresh not queued")


@transaction.atomic
def creator_hide(*, member: Member, creator: Creator) -> None:
    HiddenCreator.objects.get_or_create(member=member, creator=creator)


@transaction.atomic
def creator_unhide(*, member: Member, creator: Creator) -> None:
    HiddenCreator.objects.filter(member=member, creator=creator).delete()


# --- answering ----------------------------------------------------------------------------------

@transaction.atomic
def network_rsvp_set(*, event: NetworkEvent, member: Member, status: str) -> NetworkRSVP:
    """The member's answer to a network event; its record is written on commit, paced like our
    own RSVPs, at one fixed record key per (member, event)."""
    if status not in NetworkRSVP.Status.values:
        raise InvalidInputError(gettext("Choose going, maybe or not going."), field="status")
    event = NetworkEvent.objects.select_for_update().get(pk=event.pk)
    if event.is_cancelled:
        raise InvalidInputError(gettext("This event is cancelled."))
    rsvp, created = NetworkRSVP.objects.get_or_create(event=event, member=member,
                                                      defaults={"status": status, "subject_cid": event.cid})
    if not created and rsvp.status == status and rsvp.subject_cid == event.cid \
            and rsvp.publish_state != PublishState.FAILED:
        return rsvp
    if not created:
        rsvp.status, rsvp.subject_cid = status, event.cid
        rsvp.save(update_fields=["status", "subject_cid", "updated_at"])
    _answers_recount(event_id=event.pk)
    network_rsvp_publish_queue(rsvp=rsvp)
    return rsvp


def network_rsvp_publish_queue(*, rsvp: NetworkRSVP) -> bool:
    if pipeline.record_agent_for(rsvp.member) is None:
        return False
    rkey = rsvp.at_rkey or atrecords.rsvp_rkey(member_id=rsvp.member_id, event_uri=rsvp.event.uri)
    NetworkRSVP.objects.filter(pk=rsvp.pk).update(at_rkey=rkey, publish_state=PublishState.PENDING, publish_error="")
    rsvp.at_rkey, rsvp.publish_state, rsvp.publish_error = rkey, PublishState.PENDING, ""
    pipeline.record_write_queue(kind=RecordWrite.Kind.NETWORK_RSVP, member_id=rsvp.member_id, object_id=rsvp.pk)
    return True


def network_rsvp_publish(*, rsvp_id: int, slot_at: float | None = None) -> Outcome:
    """One attempt to write the member's answer as their RSVP record: load, pace, compose, write,
    settle. Idempotent: the key is fixed, the write is a putRecord of the answer as it is now.

    The same write pipeline as our own events' RSVPs (bluesky.pipeline: the member's own account,
    the write budget invitations share, the same failure policy, waits as due times)."""
    rsvp = NetworkRSVP.objects.select_related("event", "member").filter(pk=rsvp_id).first()
    if rsvp is None:
        return Outcome.done("missing")
    event = rsvp.event
    rkey = rsvp.at_rkey or atrecords.rsvp_rkey(member_id=rsvp.member_id, event_uri=event.uri)
    return pipeline.member_record_put(
        rows=NetworkRSVP.objects.all(), row=rsvp, member=rsvp.member, collection=RSVP_NSID, rkey=rkey,
        record=lambda: atrecords.rsvp_record(rsvp=rsvp, event_uri=event.uri, event_cid=rsvp.subject_cid or event.cid,
                                             created_at=rsvp.updated_at),
        managed_keys=atrecords.RSVP_KEYS, slot_at=slot_at)


def _network_rsvp_writer(job: RecordWrite) -> Outcome:
    return network_rsvp_publish(rsvp_id=job.object_id or 0, slot_at=pipeline.job_slot_at(job))


def register_writers() -> None:
    """Called once by the app's ready(): answers to network events are written by the pipeline."""
    pipeline.register_writer(RecordWrite.Kind.NETWORK_RSVP, _network_rsvp_writer)


def network_event_block(*, event: NetworkEvent) -> None:
    NetworkEvent.objects.filter(pk=event.pk).update(blocked=True)


def creator_block(*, creator: Creator) -> None:
    Creator.objects.filter(pk=creator.pk).update(blocked=True)


# --- respect: blocks, mutes, reports -------------------------------------------------------------

def member_hidden_accounts(*, member: Member, fresh: bool = False) -> dict[str, str]:
    """DID -> "block" or "mute": whom the signed-in member blocks or mutes on Bluesky (kept a few
    minutes per member; `fresh` reads them again). Empty for visitors and members without Bluesky."""
    if not member.is_authenticated:
        return {}
    from bluesky.graph import BlueskyGraphService

    return BlueskyGraphService().hidden_accounts(member=member, fresh=fresh)


@transaction.atomic
def network_event_report(*, event: NetworkEvent, member: Member, reason: str, note: str = "") -> NetworkEventReport:
    """A member reports another app's event to staff (again: their reason is updated). When
    NETWORK_REPORTS_TO_HIDE distinct members have reported it, it is hidden until staff review it;
    an event staff kept stays shown."""
    if reason not in NetworkEventReport.Reason.values:
        raise InvalidInputError(gettext("Choose why you report this event."), field="reason")
    NetworkEvent.objects.select_for_update().filter(pk=event.pk).first()  # one count at a time per event
    report, _ = NetworkEventReport.objects.update_or_create(
        event=event, member=member, defaults={"reason": reason, "note": " ".join(note.split())[:500]})
    reporters = NetworkEventReport.objects.filter(event=event).values("member_id").distinct().count()
    if reporters >= settings.NETWORK_REPORTS_TO_HIDE:
        NetworkEvent.objects.filter(pk=event.pk, review=NetworkEvent.Review.NONE).update(
            review=NetworkEvent.Review.PENDING)
    return report


@transaction.atomic
def network_event_review(*, event_ids: list[int], keep: bool) -> int:
    """Staff decided on reported events: kept (shown again, not hidden by the same reports) or hidden
    (blocked, as staff block any event)."""
    rows = NetworkEvent.objects.filter(pk__in=event_ids)
    if keep:
        return rows.update(review=NetworkEvent.Review.KEPT, blocked=False)
    return rows.update(review=NetworkEvent.Review.KEPT, blocked=True)
