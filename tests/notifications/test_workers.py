"""Real Celery workers (with beat) and a real SMTP server on loopback: a reminder is sent once even
when two workers run the dispatcher and the one sending it is killed in the middle of the SMTP
transaction."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from elonara import services as events
from notifications.models import Mail
from tests.celery_worker import celery_worker, wait_for
from tests.notifications.helpers import event, member

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs Redis (make test starts one)"),
]


def _socket_owner(port: int) -> int | None:
    """The pid holding the local TCP port `port` (the sending worker's end of the SMTP session)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(fields[9])
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                if os.readlink(f"/proc/{pid}/fd/{fd}").removeprefix("socket:[").rstrip("]") in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


@pytest.mark.django_db(transaction=True)
def test_a_reminder_is_sent_once_when_its_sender_is_killed_mid_send(mail_server, tmp_path):
    from tests.invitations.peer_helpers import purge_queue

    host, maya = member("host"), member("maya", rsvp_confirmations=False)
    ride = event(host, starts_at=timezone.now() + timedelta(hours=3))
    # The server holds its answer to RCPT for maya the first time: the sender is killed meanwhile.
    mail_server.stall_once("maya@example.org", 30)
    env = {"EMAIL_URL": mail_server.url, "NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS": "1",
           "NOTIFICATIONS_SEND_LEASE_SECONDS": "8", "CELERY_VISIBILITY_TIMEOUT": "4",
           "CELERY_UNACKED_RESTORE_INTERVAL": "2"}
    purge_queue()
    with celery_worker(extra_env=env, log_path=tmp_path / "a.log") as first, \
            celery_worker(extra_env=env, log_path=tmp_path / "b.log") as second:
        events.rsvp_set(event=ride, member=maya, status="going")  # commits: the reminder is due now
        assert mail_server.wait_for(lambda: mail_server.handler.stalled_peers, timeout=60), \
            (tmp_path / "a.log").read_text()[-2000:]
        owner = _socket_owner(mail_server.handler.stalled_peers[0][1])
        assert owner is not None
        victim = next(w for w in (first, second) if os.getpgid(owner) == w.pid)
        os.killpg(victim.pid, signal.SIGKILL)
        victim.wait()
        killed_at = time.monotonic()
        survivor_log = tmp_path / ("b.log" if victim is first else "a.log")
        # The survivor's dispatcher claims it again once the lease is over, and sends it.
        assert wait_for(lambda: Mail.objects.filter(member=maya, kind="reminder", status="sent").exists(),
                        timeout=60), survivor_log.read_text()[-3000:]
        print(f"sent {time.monotonic() - killed_at:.1f} s after the kill (lease 8 s)")
        # Redelivery of the killed task (visibility 4 s) and further beats change nothing.
        time.sleep(8)
    assert len(mail_server.to("maya@example.org")) == 1
    reminder = Mail.objects.get(member=maya, kind="reminder")
    assert reminder.status == "sent" and reminder.attempts == 2


@pytest.mark.django_db(transaction=True)
def test_a_mail_server_slower_than_the_lease_delays_mail_and_never_doubles_it(mail_server, tmp_path):
    """One claim of six mails takes 9 s to send at 1.5 s a message, three leases of 3 s: the
    dispatchers of two workers claim what is left again and again meanwhile. Each message is
    leased from the moment it is taken, so the one on the wire is never claimed again."""
    from tests.invitations.peer_helpers import purge_queue

    host = member("host")
    ride = event(host, title="Slow mail ride")
    guests = [member(f"slow{i}") for i in range(6)]
    mail_server.handler.data_delay = 1.5
    env = {"EMAIL_URL": mail_server.url, "NOTIFICATIONS_DISPATCH_INTERVAL_SECONDS": "1",
           "NOTIFICATIONS_SEND_LEASE_SECONDS": "3", "CELERY_VISIBILITY_TIMEOUT": "4",
           "CELERY_UNACKED_RESTORE_INTERVAL": "1", "EMAIL_TIMEOUT": "10"}
    purge_queue()
    for guest in guests:  # queued before any worker runs: the first round claims them together
        events.rsvp_set(event=ride, member=guest, status="going")
    with celery_worker(extra_env=env, log_path=tmp_path / "a.log"), \
            celery_worker(extra_env=env, log_path=tmp_path / "b.log"):
        assert wait_for(lambda: Mail.objects.filter(event=ride, kind="rsvp", status="sent").count() == 6,
                        timeout=90), (tmp_path / "a.log").read_text()[-3000:]
        time.sleep(6)  # further beats and redeliveries (visibility 4 s) send nothing more
    counts = {guest.username: len(mail_server.to(guest.email)) for guest in guests}
    print(f"messages per guest: {counts}")
    assert counts == {guest.username: 1 for guest in guests}
