"""Benchmark: invitations sent per second by ONE Celery worker against the local official PDS,
pacing off. Prints figures, asserts nothing.

    . DIR/services.env; [ELONARA_PEER_STATE=...] .venv/bin/python bench/invitations_send.py [N] [CONCURRENCY]
"""

from __future__ import annotations

import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.invitations_common import bench_environment, guests, make_host_and_event, wait_all_final


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    concurrency = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    with ExitStack() as stack, bench_environment(pacing=False) as (peer, _env):
        from invitations import services
        from invitations.models import Invitation
        from tests.celery_worker import celery_worker

        host, event = make_host_and_event(peer, title="Send-rate benchmark")
        logs = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inv-"))
        log = Path(logs) / "worker.log"
        with celery_worker(concurrency=concurrency, log_path=log):
            # Warm-up: the worker's first post creates the app-password session (one createSession).
            warm = services.invitations_enqueue(host=host, target=event, profiles=guests(1, "warm"),
                                                message_template="")
            wait_all_final(warm.batch.pk, timeout=120)
            t0 = time.monotonic()
            result = services.invitations_enqueue(host=host, target=event, profiles=guests(n, "g"),
                                                  message_template="")
            t1 = wait_all_final(result.batch.pk, timeout=600)
        rows = Invitation.objects.filter(batch=result.batch)
        sent = rows.filter(status=Invitation.Status.SENT).count()
        failed = rows.filter(status=Invitation.Status.FAILED).count()
        elapsed = t1 - t0
        print(f"invitations_send: {sent} sent, {failed} failed, {n - sent - failed} unfinished of {n} in "
              f"{elapsed:.2f} s by one worker (prefork, concurrency {concurrency}), pacing off: "
              f"{sent / elapsed:.1f} invitations/s (enqueue + dispatch + compose + createRecord on the local PDS)")


if __name__ == "__main__":
    main()
