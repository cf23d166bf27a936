"""Building each mail: subject, plain text and HTML from templates/email/, the calendar entry.

Mails carry only what the event page shows (title, time, place, host's name, online link) and the
recipient's own address; the one secret a mail may hold is a password-reset link, made here at
sending time for the member it goes to, and never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.mime.text import MIMEText
from email.utils import parseaddr

import icalendar
from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from core.i18n import member_language
from elonara import ical
from elonara.cards import absolute_url
from elonara.models import Event, HostMessage
from elonara.when import event_when
from notifications import tokens
from notifications.models import TOPIC_LABELS, TOPIC_OF_KIND, Mail

K = Mail.Kind


@dataclass(frozen=True)
class Composed:
    email: EmailMultiAlternatives
    to_address: str


def when_text(starts_at: datetime, ends_at: datetime, zone_name: str) -> str:
    """"Saturday 14 March 2027, 10:00–12:00, Berlin time (UTC+1)", in the event's own zone and the
    language the mail is written in (elonara.when)."""
    return event_when(starts_at=starts_at, ends_at=ends_at, time_zone=zone_name)


def place_text(*, venue: str, online: bool) -> str:
    if venue and online:
        return f"{venue} and online"
    return venue or ("Online" if online else "")


def _event_context(mail: Mail) -> dict:
    event = mail.event
    assert event is not None
    context = {
        "event": event,
        "event_url": absolute_url(event.get_absolute_url()),
        "when": when_text(event.starts_at, event.ends_at, event.time_zone),
        "place": place_text(venue=event.venue, online=bool(event.online_url)),
        "host_name": event.host.name,
    }
    if mail.kind == K.CHANGED:
        d = mail.details
        old_start = datetime.fromtimestamp(d["old_starts_at"], tz=UTC)
        old_end = datetime.fromtimestamp(d["old_ends_at"], tz=UTC)
        context["old_when"] = when_text(old_start, old_end, d.get("old_time_zone", "UTC"))
        context["old_place"] = place_text(venue=d.get("old_venue", ""), online=d.get("old_online", False))
        context["time_changed"] = context["old_when"] != context["when"]
        context["place_changed"] = context["old_place"] != context["place"]
    if mail.kind == K.PLACE:
        context.update(change=mail.details.get("change", ""), status=mail.details.get("status", ""),
                       place=mail.details.get("place"))
    if mail.kind == K.HOST_MESSAGE:
        message = HostMessage.objects.select_related("author").filter(pk=mail.details.get("message")).first()
        context["message_body"] = message.body if message is not None else ""
        context["author_name"] = message.author.name if message is not None else event.host.name
    if mail.kind == K.RSVP:
        context["answer"] = {"going": "Going", "maybe": "Maybe"}.get(mail.details.get("status"), "")
        if mail.details.get("status") == "going":
            # The ticket's page, not its code: whoever else reads the mail cannot get in with it.
            context["ticket_url"] = absolute_url(reverse("event-ticket", args=[event.pk]))
    return context


def _topic(mail: Mail) -> str:
    return TOPIC_OF_KIND[mail.kind]


def compose(*, mail: Mail) -> Composed:
    """The mail in its recipient's language (core.i18n.member_language: their setting, else the
    language of their last page, else English): subject, both parts and the dates in them."""
    with translation.override(member_language(mail.member)):
        return _compose(mail=mail)


def _compose(*, mail: Mail) -> Composed:
    member = mail.member
    context: dict = {"member_name": member.name, "site_url": settings.ELONARA_PUBLIC_URL,
                     "mail_language": translation.get_language(),
                     "settings_url": absolute_url(reverse("members:me"))}
    headers = {"Auto-Submitted": "auto-generated"}
    ics: tuple[bytes, str] | None = None
    if mail.kind == K.CONFIRM_ADDRESS:
        token = tokens.confirmation_token(member_id=member.pk, email=member.email)
        context["confirm_url"] = absolute_url(reverse("notifications:confirm", args=[token]))
        context["hours"] = settings.EMAIL_CONFIRMATION_MAX_AGE // 3600
    elif mail.kind == K.PASSWORD_RESET:
        uid = urlsafe_base64_encode(force_bytes(member.pk))
        token = default_token_generator.make_token(member)
        context["reset_url"] = absolute_url(reverse("members:password-reset-confirm", args=[uid, token]))
        context["username"] = member.username
        context["hours"] = max(1, settings.PASSWORD_RESET_TIMEOUT // 3600)
    else:
        context.update(_event_context(mail))
        topic = _topic(mail)
        one_click = absolute_url(reverse("notifications:unsubscribe",
                                         args=[tokens.unsubscribe_token(member_id=member.pk, topic=topic)]))
        context["unsubscribe_url"] = one_click
        context["topic_label"] = TOPIC_LABELS[topic]
        # RFC 8058: a mail client POSTs "List-Unsubscribe=One-Click" to this URL, no sign-in.
        headers["List-Unsubscribe"] = f"<{one_click}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        going_now = mail.kind == K.PLACE and mail.details.get("status") == "going"
        if (mail.kind in (K.RSVP, K.CHANGED) or going_now) and mail.event is not None:
            ics = (calendar_entry(event=mail.event, method="REQUEST", attendee_email=member.email,
                                  attendee_name=member.name, answer=mail.details.get("status", "going")), "REQUEST")
        elif mail.kind == K.CANCELLED and mail.event is not None:
            ics = (calendar_entry(event=mail.event, method="CANCEL", attendee_email=member.email,
                                  attendee_name=member.name), "CANCEL")
    name = mail.kind
    # Event times are written in the event's zone by when_text; nothing else depends on the zone.
    with timezone.override(UTC):
        subject = " ".join(render_to_string(f"email/{name}_subject.txt", context).split())
        text = render_to_string(f"email/{name}.txt", context)
        html = render_to_string(f"email/{name}.html", context)
    message = EmailMultiAlternatives(subject=subject, body=text, from_email=settings.DEFAULT_FROM_EMAIL,
                                     to=[member.email], headers=headers)
    message.attach_alternative(html, "text/html")
    if ics is not None:
        content, method = ics
        part = MIMEText(content.decode("utf-8"), "calendar", "utf-8")
        # The method parameter is how mail clients recognise an update or a cancellation.
        part.set_param("method", method)
        part.add_header("Content-Disposition", "attachment", filename="event.ics")
        message.attach(part)
    return Composed(email=message, to_address=member.email)


def calendar_entry(*, event: Event, method: str, attendee_email: str, attendee_name: str,
                   answer: str = "going") -> bytes:
    """The event's calendar file (elonara.ical: same UID, its SEQUENCE, STATUS) as an iTIP
    message (RFC 5546): METHOD:REQUEST adds or moves the entry, METHOD:CANCEL removes it.

    The organizer is our sending address under the host's name, never the host's own address
    (the pages do not show it); the attendee is the recipient themselves."""
    calendar = icalendar.Calendar.from_ical(ical.event_ics(event=event))
    calendar.add("METHOD", method)
    _, from_address = parseaddr(settings.DEFAULT_FROM_EMAIL)
    for component in calendar.walk("VEVENT"):
        # With a METHOD, DTSTAMP is when this message was made (RFC 5545 3.8.7.2).
        component.pop("DTSTAMP", None)
        component.add("DTSTAMP", timezone.now())
        organizer = icalendar.vCalAddress(f"mailto:{from_address}")
        organizer.params["CN"] = icalendar.vText(f"{event.host.name} (via Elonara)")
        component.add("ORGANIZER", organizer)
        attendee = icalendar.vCalAddress(f"mailto:{attendee_email}")
        attendee.params["CN"] = icalendar.vText(attendee_name)
        attendee.params["ROLE"] = icalendar.vText("REQ-PARTICIPANT")
        attendee.params["PARTSTAT"] = icalendar.vText("TENTATIVE" if answer == "maybe" else "ACCEPTED")
        attendee.params["RSVP"] = icalendar.vText("FALSE")
        component.add("ATTENDEE", attendee)
        if answer == "going":
            # The description's link to the ticket's page (sign-in needed; no code in it).
            ticket = absolute_url(reverse("event-ticket", args=[event.pk]))
            component["DESCRIPTION"] = "\n\n".join(filter(None, [str(component.get("DESCRIPTION", "")),
                                                                   f"Your ticket: {ticket}"]))
    return calendar.to_ical()
