"""Building blocks for the mail tests: members with a proven address, events, and draining the outbox
in this process as a worker would."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from elonara import services as events
from members.models import Member
from notifications import services
from notifications.models import MailSettings


def member(username: str, *, email: str | None = None, confirmed: bool = True, **prefs: bool) -> Member:
    person = Member.objects.create_user(username=username, password="pw-long-enough-123",
                                        email=f"{username}@example.org" if email is None else email,
                                        display_name=username.title())
    if confirmed or prefs:
        MailSettings.objects.create(member=person, confirmed_email=person.email if confirmed else "",
                                    confirmed_at=timezone.now() if confirmed else None, **prefs)
    return person


def event(host: Member, *, starts_at: datetime | None = None, hours: int = 2, time_zone: str = "UTC",
          venue: str = "Boathouse", title: str = "Lakeside ride"):
    starts_at = starts_at or timezone.now() + timedelta(days=3)
    return events.event_create(host=host, title=title, starts_at=starts_at, ends_at=starts_at + timedelta(hours=hours),
                               time_zone=time_zone, venue=venue)


def drain(*, now: datetime | None = None) -> services.SendReport:
    """Claim and send everything due, as the dispatcher and send tasks do."""
    total = services.SendReport()
    while (claim := services.mail_claim_due(now=now)) is not None:
        report = services.mail_send_claimed(claim=claim)
        for name in ("sent", "skipped", "failed", "retry"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
    return total
