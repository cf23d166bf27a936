"""Benchmark: 10,000 event reminders, enqueued and sent to a real SMTP server on loopback.

- enqueue: the notification hook each answer runs after commit (rsvp_answered: the reminder row
  and the confirmation row, and the wake-up published to the broker), 10,000 times;
- send in this process: the dispatcher's claims (batches of NOTIFICATIONS_DISPATCH_BATCH, SKIP
  LOCKED) and send_claimed (one SMTP connection per batch), until nothing is due;
- send with a real Celery worker (beat's dispatcher, prefork, concurrency 2) when a Redis broker
  is configured (make bench), the same 10,000 rows made due again.

The SMTP server (aiosmtpd, tests/mail_server.py) runs in this process and only counts messages.
Prints figures; asserts nothing. Uses DATABASE_URL when set (make bench: private PostgreSQL).

    [. DIR/services.env;] .venv/bin/python bench/notifications_reminders.py [COUNT]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    workdir = tempfile.TemporaryDirectory(prefix="bench-mail-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir.name}/bench.sqlite3")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
    from tests.mail_server import MailServer

    server = MailServer(count_only=True).start()
    os.environ["EMAIL_URL"] = server.url
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.utils import timezone

    from elonara import services as events
    from elonara.models import RSVP
    from members.models import Member
    from notifications import services
    from notifications.models import Mail, MailSettings

    call_command("migrate", verbosity=0, interactive=False)
    tag = f"b{time.time_ns()}"
    host = Member.objects.create_user(username=f"{tag}-host", password="x" * 20)
    try:
        start = timezone.now() + timedelta(hours=3)  # within a day: every reminder is due at once
        event = events.event_create(host=host, title="Bench meetup", starts_at=start,
                                    ends_at=start + timedelta(hours=2), venue="Hall")
        members = Member.objects.bulk_create(
            [Member(username=f"{tag}-{i}", email=f"{tag}-{i}@example.org", password="!") for i in range(count)],
            batch_size=1000)
        # Confirmed addresses; confirmations of answers off, so only the reminders are sent.
        MailSettings.objects.bulk_create([MailSettings(member=m, confirmed_email=m.email, rsvp_confirmations=False)
                                          for m in members], batch_size=1000)
        rsvps = RSVP.objects.bulk_create([RSVP(event=event, member=m, status=RSVP.Status.GOING) for m in members],
                                         batch_size=1000)
        for rsvp in rsvps:
            rsvp.event = event
        began = time.perf_counter()
        for rsvp in rsvps:
            services.rsvp_answered(rsvp=rsvp)
        enqueue = time.perf_counter() - began
        reminders = Mail.objects.filter(event=event, kind=Mail.Kind.REMINDER)
        print(f"enqueue: {count} answers' mail hook (a reminder row each, confirmations off; a broker wake-up each): "
              f"{enqueue:.1f} s ({count / enqueue:.0f}/s), {reminders.count()} reminders due")

        began = time.perf_counter()
        claims = 0
        while (claim := services.mail_claim_due()) is not None:
            services.mail_send_claimed(claim=claim)
            claims += 1
        send = time.perf_counter() - began
        sent = reminders.filter(status=Mail.Status.SENT).count()
        print(f"send in one process: {sent} reminders in {send:.1f} s ({sent / send:.0f}/s), {claims} batches of "
              f"{settings.NOTIFICATIONS_DISPATCH_BATCH}, one SMTP connection each; server received "
              f"{len(server.received)}")

        if os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
            from tests.celery_worker import celery_worker
            from tests.invitations.peer_helpers import purge_queue

            purge_queue()
            before = len(server.received)
            log = Path(workdir.name) / "worker.log"
            with celery_worker(concurrency=2, log_path=log,
                               extra_env={"EMAIL_URL": server.url, "NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS": "1",
                                          "DATABASE_URL": os.environ["DATABASE_URL"]}):
                time.sleep(3)  # the worker is consuming
                began = time.perf_counter()
                reminders.update(status=Mail.Status.PENDING, due_at=timezone.now(), claim="", sent_at=None)
                deadline = time.monotonic() + 600
                while reminders.exclude(status=Mail.Status.SENT).exists() and time.monotonic() < deadline:
                    time.sleep(0.2)
                worker = time.perf_counter() - began
            sent = len(server.received) - before
            print(f"send by a Celery worker (concurrency 2, beat every 1 s): {sent} reminders in {worker:.1f} s "
                  f"({sent / worker:.0f}/s)")
    finally:
        Mail.objects.filter(member__username__startswith=tag).delete()
        RSVP.objects.filter(member__username__startswith=tag).delete()
        if "event" in locals():
            events.event_delete(event=event, actor=host)
        Member.objects.filter(username__startswith=tag).delete()
        server.stop()
        workdir.cleanup()


if __name__ == "__main__":
    main()
