"""Mail: what members want, queueing notices, claiming due mail and sending it once.

Queueing writes `Mail` rows (an outbox) with a unique key per notice, then wakes the dispatcher
after commit; beat runs the dispatcher too, so a lost wake-up or a reminder due tomorrow is sent
on time. Sending claims each row (PENDING -> SENDING under the batch's claim) before talking to
the SMTP server and marks it SENT right after the server accepted it: a duplicated or redelivered
task finds nothing left to send. Each row is leased as it is taken (not only when its batch was
claimed), so a slow server delays mail and never doubles it. A worker killed mid-send leaves its
row claimed; the dispatcher claims it again once that row's lease is over. The only duplicate SMTP
can make is a crash between the server's "250 accepted" and our write, which no mail system avoids.
"""

from __future__ import annotations

import logging
import random
import smtplib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import get_connection
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from core.errors import ApplicationError
from core.sql import STAND_IN_ID, FixedQuery
from core.tasks import task_on_commit
from elonara import selectors
from elonara.models import RSVP, Event, EventCohost, HostMessage
from members.models import Member
from notifications import messages, tokens
from notifications.models import TOPIC_LABELS, TOPIC_OF_KIND, Mail, MailSettings

logger = logging.getLogger(__name__)

K, S = Mail.Kind, Mail.Status
TOPICS = tuple(TOPIC_LABELS)  # the mail topics a member can turn off, one place (notifications.models)
# Changes of a member's place that they did not make themselves (elonara.answers.CHANGES): each is
# told in its own mail (PLACE), never as an ordinary confirmation of an answer.
PLACE_CHANGES = ("waitlisted", "promoted", "approved", "declined", "removed")
NOTIFICATION_KINDS = frozenset(TOPIC_OF_KIND)
ATTENDING = (RSVP.Status.GOING, RSVP.Status.MAYBE)
# A temporary refusal (4xx, connection lost) is tried again later, this many times in all.
MAX_ATTEMPTS = 6
RETRY_BASE_SECONDS = 60


class EmailError(ApplicationError):
    """A member-facing refusal (a bad or expired link, an unknown choice); `message` is safe to show."""

    code = "email_error"


# --- Preferences and the address ---------------------------------------------------------------

_SETTINGS_OF = FixedQuery(lambda member_id: MailSettings.objects.filter(member_id=member_id).order_by("pk")[:1],
                          member_id=STAND_IN_ID)


def mail_settings_get(*, member: Member) -> MailSettings:
    """The member's settings; an unsaved row with the defaults when they never changed any."""
    found = _SETTINGS_OF.first(member_id=member.pk)
    return found if found is not None else MailSettings(member=member)


@transaction.atomic
def mail_settings_update(*, member: Member, **choices: bool) -> MailSettings:
    unknown = set(choices) - set(TOPICS)
    if unknown:
        raise EmailError(f"Unknown notification kinds: {', '.join(sorted(unknown))}", code="unknown_topic")
    row, _ = MailSettings.objects.select_for_update().get_or_create(member=member)
    for topic, on in choices.items():
        setattr(row, topic, bool(on))
    row.save(update_fields=list(choices) or None)
    return row


def unsubscribe(*, token: str) -> tuple[Member, str]:
    """Turn off the kind of mail a one-click link names ("all": every notification). No sign-in:
    the signed link is the proof (RFC 8058). Returns the member and the topic."""
    claim = tokens.unsubscribe_read(token)
    if claim is None or (claim[1] not in TOPICS and claim[1] != "all"):
        raise EmailError(gettext("This unsubscribe link is not valid."), code="bad_link")
    member = Member.objects.filter(pk=claim[0]).first()
    if member is None:
        raise EmailError(gettext("This unsubscribe link is not valid."), code="bad_link")
    topics = TOPICS if claim[1] == "all" else (claim[1],)
    mail_settings_update(member=member, **{topic: False for topic in topics})
    return member, claim[1]


def email_confirmation_request(*, member: Member) -> Mail | None:
    """Send a confirmation link to the member's current address (after commit). None when they
    have no address, it is already confirmed, or mail is off."""
    if not member.email or mail_settings_get(member=member).is_confirmed(member.email):
        return None
    return _queue_one(kind=K.CONFIRM_ADDRESS, member=member, key=f"confirm:{member.pk}:{uuid.uuid4().hex}")


@transaction.atomic
def email_confirm(*, token: str) -> Member:
    """Mark the address a link was sent to as confirmed, if it is still the member's address."""
    claim = tokens.confirmation_read(token)
    if claim is None:
        raise EmailError(gettext("This confirmation link is not valid or has expired. Send a new one from your "
                                 "profile."), code="bad_link")
    member = Member.objects.filter(pk=claim.member_id).first()
    if member is None or member.email.lower() != claim.email:
        raise EmailError(gettext("This link was for an address that is no longer on the account."),
                         code="address_changed")
    row, _ = MailSettings.objects.select_for_update().get_or_create(member=member)
    row.confirmed_email, row.confirmed_at = member.email, timezone.now()
    row.save(update_fields=["confirmed_email", "confirmed_at"])
    return member


def member_email_changed(*, member: Member) -> Mail | None:
    """Call after a member's address changed: the new one gets a confirmation link (the old
    confirmation no longer applies, since it names the old address)."""
    return email_confirmation_request(member=member)


def password_reset_request(*, member: Member) -> Mail | None:
    """Queue a reset mail. The link (Django's token) is made by the worker when it sends, so it is
    never stored or carried by the broker."""
    if not member.email:
        return None
    return _queue_one(kind=K.PASSWORD_RESET, member=member, key=f"reset:{member.pk}:{uuid.uuid4().hex}")


# --- Event notices (hooks) -------------------------------------------------------------------

def _reminder_due(starts_at: datetime, now: datetime) -> datetime | None:
    """When a reminder goes: a day before, or now for a late answer; None once it started."""
    if starts_at <= now:
        return None
    return max(starts_at - timedelta(hours=settings.NOTIFICATIONS_REMINDER_HOURS), now)


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


def _reminder_key(event: Event, member_id: int) -> str:
    return f"reminder:{event.pk}:{member_id}:{_ts(event.starts_at)}"


def rsvp_answered(*, rsvp: RSVP, change: str = "answered") -> None:
    """After an answer is committed: Going/Maybe get a confirmation and a reminder scheduled;
    Not going drops the reminder still waiting. A place that changed (PLACE_CHANGES: the waiting
    list, a promotion, the host's decision) gets its own notice instead of the confirmation."""
    event, member = rsvp.event, rsvp.member
    place = _place_notice(rsvp=rsvp, change=change) if change in PLACE_CHANGES else None
    if rsvp.status not in ATTENDING:
        Mail.objects.filter(event=event, member=member, kind__in=[K.REMINDER, K.RSVP], status=S.PENDING).update(
            status=S.SKIPPED, note="Answered not going.", due_at=None)
        _queue([place] if place is not None else [])
        return
    if not member.email or not settings.EMAIL_ENABLED:
        return
    now = timezone.now()
    rows = [place] if place is not None else []
    prefs = mail_settings_get(member=member)
    # The host knows (they made it); nothing is queued for an unproven address or a turned-off kind.
    if change not in PLACE_CHANGES and event.host_id != member.pk and prefs.is_confirmed(member.email) \
            and prefs.rsvp_confirmations:
        rows.append(Mail(kind=K.RSVP, member=member, event=event, due_at=now,
                         key=f"rsvp:{event.pk}:{member.pk}:{rsvp.status}:{event.sequence}",
                         details={"status": rsvp.status}))
    due = _reminder_due(event.starts_at, now)
    if due is not None:
        rows.append(Mail(kind=K.REMINDER, member=member, event=event, due_at=due, key=_reminder_key(event, member.pk),
                         details={"starts_at": _ts(event.starts_at)}))
    _queue(rows)


def _place_notice(*, rsvp: RSVP, change: str) -> Mail | None:
    member = rsvp.member
    if not member.email or not settings.EMAIL_ENABLED:
        return None
    prefs = mail_settings_get(member=member)
    if not prefs.is_confirmed(member.email) or not prefs.place_changes:
        return None
    # Keyed by the change and the row's own time of it: a redelivered signal queues nothing more,
    # a second promotion months later is a new notice.
    stamp = int(rsvp.updated_at.timestamp() * 1_000_000)
    return Mail(kind=K.PLACE, member=member, event=rsvp.event, due_at=timezone.now(),
                key=f"place:{rsvp.event_id}:{member.pk}:{change}:{stamp}",
                details={"change": change, "status": rsvp.status,
                         "place": selectors.rsvp_waitlist_position(rsvp=rsvp)})


def _attendees(event: Event) -> list[int]:
    return list(RSVP.objects.filter(event=event, status__in=ATTENDING).exclude(member__email="")
                .exclude(member_id=event.host_id).values_list("member_id", flat=True))


MOVE_FIELDS = ("starts_at", "ends_at", "time_zone", "venue", "online_url")


def event_changed(*, before: Event, after: Event) -> None:
    """Inside the edit's transaction: when the time or the place moved, a notice (with the updated
    calendar entry) to everyone going or maybe, and reminders follow the new start."""
    if not settings.EMAIL_ENABLED or after.status == Event.Status.CANCELLED:
        return
    if all(getattr(before, f) == getattr(after, f) for f in MOVE_FIELDS):
        return
    # An older notice still waiting would show a time that is no longer true: this one replaces it.
    Mail.objects.filter(event=after, kind=K.CHANGED, status=S.PENDING).update(
        status=S.SKIPPED, note="Replaced by a newer change.", due_at=None)
    now = timezone.now()
    details = {"old_starts_at": _ts(before.starts_at), "old_ends_at": _ts(before.ends_at),
               "old_time_zone": before.time_zone, "old_venue": before.venue,
               "old_online": bool(before.online_url), "sequence": after.sequence}
    members = _attendees(after)
    rows = [Mail(kind=K.CHANGED, member_id=m, event=after, due_at=now, details=details,
                 key=f"changed:{after.pk}:{m}:{after.sequence}") for m in members]
    if before.starts_at != after.starts_at:
        Mail.objects.filter(event=after, kind=K.REMINDER, status=S.PENDING).update(
            status=S.SKIPPED, note="The event moved.", due_at=None)
        due = _reminder_due(after.starts_at, now)
        if due is not None:
            everyone = set(members) | set(RSVP.objects.filter(event=after, member_id=after.host_id,
                                                              status__in=ATTENDING).values_list("member_id", flat=True))
            rows += [Mail(kind=K.REMINDER, member_id=m, event=after, due_at=due, key=_reminder_key(after, m),
                          details={"starts_at": _ts(after.starts_at)}) for m in everyone]
    _queue(rows)


def event_cancelled(*, event: Event) -> None:
    """Inside the cancel's transaction: a cancellation (METHOD:CANCEL) to everyone going or maybe;
    everything else still waiting for this event is dropped."""
    if not settings.EMAIL_ENABLED:
        return
    Mail.objects.filter(event=event, status=S.PENDING, kind__in=[K.RSVP, K.CHANGED, K.REMINDER]).update(
        status=S.SKIPPED, note="The event was cancelled.", due_at=None)
    now = timezone.now()
    _queue([Mail(kind=K.CANCELLED, member_id=m, event=event, due_at=now, key=f"cancelled:{event.pk}:{m}",
                 details={"sequence": event.sequence}) for m in _attendees(event)])


def host_message_queue(*, message: HostMessage) -> int:
    """Inside the message's transaction: one mail to each guest in the groups it was written to
    (not the host or co-hosts, who write them; nobody who turned the topic off or has no proven
    address). Keyed by the message and the member, so it is queued and sent once; returns how
    many were queued."""
    if not settings.EMAIL_ENABLED:
        return 0
    event = message.event
    rows = []
    managers = {event.host_id, *EventCohost.objects.filter(event=event).values_list("member_id", flat=True)}
    candidates = (RSVP.objects.select_related("member", "member__mail_settings")
                  .filter(event=event, status__in=message.groups).exclude(member_id__in=managers)
                  .exclude(member__email=""))
    for rsvp in candidates:
        member = rsvp.member
        prefs = getattr(member, "mail_settings", None) or MailSettings(member=member)
        if not prefs.is_confirmed(member.email) or not prefs.host_messages or prefs.is_refused(member.email):
            continue
        rows.append(Mail(kind=K.HOST_MESSAGE, member=member, event=event, due_at=timezone.now(),
                         key=f"host_message:{message.pk}:{member.pk}", details={"message": message.pk}))
    _queue(rows)
    return len(rows)


def questions_ask(*, event: Event, member_ids: list[int]) -> None:
    """The host asks members who answered in another app to answer the questions here: one mail
    each per answer (asking again the same day queues nothing new)."""
    if not settings.EMAIL_ENABLED:
        return
    day = timezone.now().date().isoformat()
    _queue([Mail(kind=K.QUESTIONS, member_id=m, event=event, due_at=timezone.now(),
                 key=f"questions:{event.pk}:{m}:{day}") for m in member_ids])


def _queue_one(*, kind: str, member: Member, key: str) -> Mail | None:
    if not settings.EMAIL_ENABLED:
        return None
    mail = Mail(kind=kind, member=member, key=key, due_at=timezone.now())
    _queue([mail])
    return mail


def _queue(rows: list[Mail]) -> None:
    if not rows:
        return
    # A notice queued twice (a redelivered signal, a retried request) meets its unique key.
    Mail.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    if any(row.due_at is not None and row.due_at <= timezone.now() for row in rows):
        # Wake the dispatcher once the rows are visible (beat would find them within its interval).
        task_on_commit("notifications.dispatch_due")


# --- Claiming and sending ----------------------------------------------------------------------

def mail_claim_due(*, limit: int | None = None, now: datetime | None = None) -> str | None:
    """Claim up to `limit` mails that are due under one claim id (None: nothing due). Rows another
    dispatcher holds are skipped (PostgreSQL SKIP LOCKED; SQLite's IMMEDIATE transactions serialise
    dispatchers). A row left SENDING by a dead worker is due again once its lease is over."""
    limit = limit or settings.NOTIFICATIONS_DISPATCH_BATCH
    now = now or timezone.now()
    claim = uuid.uuid4().hex
    with transaction.atomic():
        ids = list(Mail.objects.select_for_update(skip_locked=True)
                   .filter(status__in=[S.PENDING, S.SENDING], due_at__lte=now)
                   .order_by("due_at").values_list("pk", flat=True)[:limit])
        if not ids:
            return None
        Mail.objects.filter(pk__in=ids).update(
            status=S.PENDING, claim=claim, due_at=now + timedelta(seconds=settings.NOTIFICATIONS_SEND_LEASE_SECONDS))
    return claim


@dataclass
class SendReport:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0


def mail_send_claimed(*, claim: str, connection=None) -> SendReport:
    """Send every mail of a claim over one SMTP connection. Safe to run any number of times."""
    report = SendReport()
    ids = list(Mail.objects.filter(claim=claim, status=S.PENDING).order_by("pk").values_list("pk", flat=True))
    if not ids:
        return report
    connection = connection or get_connection()
    try:
        for mail_id in ids:
            outcome = mail_send(mail_id=mail_id, claim=claim, connection=connection)
            if outcome != "taken":
                setattr(report, outcome, getattr(report, outcome) + 1)
    finally:
        connection.close()
    return report


def mail_send(*, mail_id: int, claim: str, connection) -> str:
    """One mail: claimed SENDING first (a second runner of the same claim finds nothing), checked
    against what is true now (the answer, the event, the member's choices and address), sent,
    then SENT. Returns sent / skipped / failed / retry / taken."""
    # The lease starts again for this one message as it is taken: a batch that outlasts its claim's
    # lease (a slow mail server) has its untaken rows claimed by another dispatcher, never the one
    # on the wire (reclaiming that one sent it twice).
    taken = Mail.objects.filter(pk=mail_id, claim=claim, status=S.PENDING).update(
        status=S.SENDING, attempts=F("attempts") + 1,
        due_at=timezone.now() + timedelta(seconds=settings.NOTIFICATIONS_SEND_LEASE_SECONDS))
    if not taken:
        return "taken"
    mail = Mail.objects.select_related("member", "member__mail_settings", "event", "event__host").filter(
        pk=mail_id).first()
    if mail is None:  # its event was deleted meanwhile (the row went with it)
        return "skipped"
    if mail.attempts > MAX_ATTEMPTS:  # its sender kept dying (a crash, not an SMTP answer)
        _finish(mail, status=S.FAILED, note="Sending kept crashing.")
        return "failed"
    prefs = getattr(mail.member, "mail_settings", None) or MailSettings(member=mail.member)
    reason = _why_not(mail, prefs)
    if reason:
        _finish(mail, status=S.SKIPPED, note=reason)
        return "skipped"
    message = messages.compose(mail=mail)
    try:
        connection.send_messages([message.email])
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (0, b""))
        return _refused(mail, code=code, text=text, recipient=True, connection=connection)
    except smtplib.SMTPResponseException as exc:  # sender or data refused, or a 4xx/5xx at any step
        return _refused(mail, code=exc.smtp_code, text=exc.smtp_error, recipient=False, connection=connection)
    except (smtplib.SMTPException, OSError) as exc:  # connection refused or lost, timeout
        connection.close()
        return _retry(mail, note=f"Mail server not reachable ({type(exc).__name__}).")
    _finish(mail, status=S.SENT, to_address=message.to_address, sent_at=timezone.now())
    logger.info("mail sent", extra={"mail": mail.pk, "kind": mail.kind})
    return "sent"


def _why_not(mail: Mail, prefs: MailSettings) -> str:
    """Why this mail must not go now (empty: it may), checked when it is taken: the address and
    the member's wishes first, then whether what it says is still true."""
    member = mail.member
    if not settings.EMAIL_ENABLED:
        return "Mail is turned off on this site."
    if not member.is_active:
        return "The account is inactive."
    if not member.email:
        return "No address on the account."
    if prefs.is_refused(member.email):
        return "The address was refused by its mail server."
    if mail.kind == K.CONFIRM_ADDRESS:
        return "Already confirmed." if prefs.is_confirmed(member.email) else ""
    if mail.kind == K.PASSWORD_RESET:
        return ""
    # Event notices: only to a proven address, only if wanted, only while still true.
    if not prefs.is_confirmed(member.email):
        return "The address is not confirmed."
    if not getattr(prefs, TOPIC_OF_KIND[mail.kind]):
        return "Turned off by the member."
    answer = RSVP.objects.filter(event=mail.event, member=member).values_list("status", flat=True).first()
    if mail.kind in (K.HOST_MESSAGE, K.QUESTIONS):
        return _why_not_host_mail(mail, answer)
    if mail.kind == K.PLACE:
        if mail.event is not None and mail.event.status == Event.Status.CANCELLED:
            return "The event was cancelled."
        return "" if answer == mail.details.get("status") else "The place changed since."
    return _why_not_event_notice(mail, answer)


def _why_not_event_notice(mail: Mail, answer: str | None) -> str:
    """A notice about an event the member answered (confirmation, change, cancellation,
    reminder): still true only while they go (or maybe) and the event is as the notice says."""
    event = mail.event
    if answer not in ATTENDING:
        return "No longer going or maybe."
    if mail.kind == K.CANCELLED:
        return ""
    assert event is not None
    if event.status == Event.Status.CANCELLED:
        return "The event was cancelled."
    if mail.kind == K.RSVP and answer != mail.details.get("status"):
        return "The answer changed since."
    if mail.kind == K.REMINDER:
        if timezone.now() >= event.starts_at:
            return "The event already started."
        if mail.details.get("starts_at") != _ts(event.starts_at):
            return "The event moved."
    return ""


def _why_not_host_mail(mail: Mail, answer: str | None) -> str:
    event = mail.event
    if event is None or event.status == Event.Status.CANCELLED:
        return "The event was cancelled."
    if mail.kind == K.HOST_MESSAGE:
        groups = HostMessage.objects.filter(pk=mail.details.get("message")).values_list("groups", flat=True).first()
        return "" if groups is not None and answer in groups else "No longer among those it was written to."
    if timezone.now() >= event.starts_at:
        return "The event already started."
    missing = RSVP.objects.filter(event=event, member=mail.member, questions_missing=True).exists()
    return "" if missing else "The questions were answered since."


def _finish(mail: Mail, *, status: str, **fields) -> None:
    Mail.objects.filter(pk=mail.pk).update(status=status, due_at=None, claim="", **fields)


def _retry(mail: Mail, *, note: str) -> str:
    if mail.attempts >= MAX_ATTEMPTS:
        _finish(mail, status=S.FAILED, note=f"{note} Gave up after {mail.attempts} attempts."[:200])
        return "failed"
    delay = RETRY_BASE_SECONDS * (2 ** (mail.attempts - 1)) * random.uniform(0.75, 1.25)
    Mail.objects.filter(pk=mail.pk).update(status=S.PENDING, claim="", note=note[:200],
                                           due_at=timezone.now() + timedelta(seconds=delay))
    return "retry"


def _refused(mail: Mail, *, code: int, text: bytes | str, recipient: bool, connection) -> str:
    reason = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    # The server's words may quote the address; a short code and text are enough for the profile.
    summary = f"{code} {reason}".strip()[:150]
    if 500 <= code < 600:
        if recipient:
            _address_refused(member_id=mail.member_id, email=mail.member.email, reason=summary)
        _finish(mail, status=S.FAILED, note=f"Refused: {summary}"[:200])
        logger.info("mail refused", extra={"mail": mail.pk, "kind": mail.kind, "smtp_code": code})
        return "failed"
    if not recipient:
        connection.close()  # the session may be in any state after a refused MAIL/DATA
    return _retry(mail, note=f"Deferred: {summary}")


@transaction.atomic
def _address_refused(*, member_id: int, email: str, reason: str) -> None:
    """A permanent refusal (5xx at RCPT): nothing more goes to this address until it changes."""
    row, _ = MailSettings.objects.select_for_update().get_or_create(member_id=member_id)
    row.refused_email, row.refused_at, row.refused_reason = email, timezone.now(), reason
    row.save(update_fields=["refused_email", "refused_at", "refused_reason"])
    Mail.objects.filter(member_id=member_id, status=S.PENDING, claim="").update(
        status=S.SKIPPED, note="The address was refused by its mail server.", due_at=None)


def mails_for(*, member: Member, kinds: Iterable[str] | None = None):
    query = Mail.objects.filter(member=member)
    return query.filter(kind__in=list(kinds)) if kinds is not None else query
