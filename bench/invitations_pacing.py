"""Benchmark: with pacing on, the share of the write budget one worker uses over a run, and 429s;
the largest number of posts by the account in any 60 s window and the smallest gap between two,
against the configured pace, with the worker killed (SIGKILL) in the middle of the window and a new
one started (the killed worker's messages come back after the visibility timeout, their slots past).

A small budget makes the run last about a minute: BLUESKY_WRITE_POINTS_PER_HOUR is set so that the
budget allows RATE posts per second (3 points each), and more invitations are queued than the
window can take, so pacing (not the queue) is the limit. Prints figures, asserts nothing.

    . DIR/services.env; [ELONARA_PEER_STATE=...] .venv/bin/python bench/invitations_pacing.py [SECONDS] [RATE]
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.invitations_common import bench_environment, guests, make_host_and_event

POINTS_PER_POST = 3


def main() -> None:
    window = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0  # posts per second the budget allows
    per_hour = int(rate * POINTS_PER_POST * 3600)
    env = {"BLUESKY_WRITE_POINTS_PER_HOUR": str(per_hour), "BLUESKY_WRITE_POINTS_PER_POST": str(POINTS_PER_POST),
           "CELERY_VISIBILITY_TIMEOUT": "5", "CELERY_UNACKED_RESTORE_INTERVAL": "1",
           "INVITATIONS_DISPATCH_HORIZON_SECONDS": "3"}
    with ExitStack() as stack, bench_environment(pacing=True, extra_env=env) as (peer, _env):
        from invitations import services
        from invitations.models import Invitation
        from tests.celery_worker import celery_worker

        host, event = make_host_and_event(peer, title="Pacing benchmark")
        budget_posts = int(window * rate)
        logs = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inv-"))
        log = Path(logs) / "worker.log"
        result = services.invitations_enqueue(
            host=host, target=event, profiles=guests(int(budget_posts * 1.5) + 10, "p"), message_template=""
        )
        # The window starts with the first post (the worker's start-up is not the budget's fault).
        rows = Invitation.objects.filter(batch=result.batch)
        from invitations.tasks import dispatch_due

        def play_beat(seconds: float) -> None:
            # What beat does in production (every INVITATIONS_DISPATCH_INTERVAL_SECONDS).
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                dispatch_due.delay()
                time.sleep(min(2.0, max(end - time.monotonic(), 0)))

        with celery_worker(concurrency=2, log_path=log) as worker:
            while not rows.filter(status=Invitation.Status.SENT).exists():
                play_beat(0.5)
            first = rows.filter(status=Invitation.Status.SENT).order_by("sent_at").first().sent_at
            play_beat(window / 2)
            os.killpg(worker.pid, signal.SIGKILL)  # mid-window: its held messages come back late
            worker.wait()
        with celery_worker(concurrency=2, log_path=Path(logs) / "worker2.log"):
            play_beat(window / 2 + 1.0)
        from datetime import timedelta

        in_window = rows.filter(status=Invitation.Status.SENT, sent_at__gte=first,
                                sent_at__lt=first + timedelta(seconds=window))
        sent = in_window.count()
        times = sorted(t.timestamp() for t in in_window.values_list("sent_at", flat=True))
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        rate_limited = rows.filter(failure_code="rate_limited").count() + rows.filter(attempts__gt=1).count()
        failed = rows.filter(status=Invitation.Status.FAILED).count()
        budget_points = per_hour * window / 3600
        used_points = sent * POINTS_PER_POST
        # Worst burst: the most posts in any 10-second stretch, against what the budget allows there.
        burst = max((sum(1 for t in times if s <= t < s + 10) for s in times), default=0)
        if "--gaps" in sys.argv:
            print("gaps", [round(g, 2) for g in gaps])
        print(f"invitations_pacing: budget {per_hour} points/hour ({rate:g} posts/s at {POINTS_PER_POST} points), "
              f"window {window:g} s: {sent} posts = {used_points} of {budget_points:.0f} points "
              f"-> {100 * used_points / budget_points:.1f} % of the write budget used")
        print(f"  spacing between posts: min {min(gaps, default=0):.3f} s, median "
              f"{sorted(gaps)[len(gaps) // 2] if gaps else 0:.3f} s (budget interval {1 / rate:.3f} s); "
              f"most posts in any 10 s: {burst} (budget {10 * rate:g})")
        codes = Counter(rows.filter(attempts__gt=1).values_list("failure_code", flat=True))
        # The posts' own creation times, stamped just before each write (sent_at is after the answer,
        # so it carries the write's own latency).
        from datetime import datetime

        from tests.invitations.peer_helpers import posts_in_repo

        posts = posts_in_repo(peer, peer.accounts["alice"].did)
        written = sorted(datetime.fromisoformat(posts[rkey]["createdAt"].replace("Z", "+00:00")).timestamp()
                         for rkey in rows.filter(status=Invitation.Status.SENT).values_list("rkey", flat=True)
                         if rkey in posts)
        write_gaps = [b - a for a, b in zip(written, written[1:], strict=False)]
        per_60 = max((sum(1 for t in written if s <= t < s + 60) for s in written), default=0)
        print(f"  through a worker kill ({len(written)} posts): most posts in any 60 s: {per_60} (the pace allows "
              f"{60 * rate:g}); smallest gap between two writes {min(write_gaps, default=0):.3f} s "
              f"(the pace: {1 / rate:.3f} s)")
        print(f"  retried invitations by last failure: {dict(codes) or 'none'}")
        print(f"  429 / retried attempts: {rate_limited}; failed: {failed}; still queued when the window closed: "
              f"{rows.exclude(status__in=[Invitation.Status.SENT, Invitation.Status.FAILED]).count()}")


if __name__ == "__main__":
    main()
