"""Benchmark: enqueue 10,000 invitations for one event (target <= 2 s). Prints figures, asserts nothing.

    .venv/bin/python bench/invitations_enqueue.py [N]

With DATABASE_URL / CELERY_BROKER_URL set (PostgreSQL + Redis from scripts/test-services.sh) a fresh
database is created beside DATABASE_URL's and dropped afterwards; else a throwaway SQLite file and
kombu's in-memory broker. Measures:
  - create: `invitations_enqueue` (validation queries, batch + bulk insert, commit, after-commit hook);
  - dispatch: one `dispatch_due` round (claims due invitations in batches of INVITATIONS_DISPATCH_BATCH,
    at most 20 batches, one `send_invitation` message each).
The graph check of `invitation_bulk_create` is not part of it (it reads the App View).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
os.environ["INVITATIONS_DAILY_CAP_PER_HOST"] = "1000000"
os.environ["INVITATIONS_DAILY_CAP_NEW_HOST"] = "1000000"
if not os.environ.get("CELERY_BROKER_URL"):
    os.environ["CELERY_BROKER_URL"] = "memory://"

from contextlib import ExitStack

from bench.invitations_common import fresh_database

_stack = ExitStack()
if os.environ.get("DATABASE_URL", "").startswith("postgres"):
    os.environ["DATABASE_URL"] = _stack.enter_context(fresh_database(os.environ["DATABASE_URL"]))
else:
    _tmp = _stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-inv-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{_tmp}/bench.sqlite3"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from bluesky.graph import GraphProfile  # noqa: E402
from invitations import services, tasks  # noqa: E402
from invitations.models import Invitation  # noqa: E402


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)
    from elonara import services as elonara_services
    from members.models import Member

    stamp = time.time_ns()
    host = Member.objects.create_user(username=f"bench-host-{stamp}", password=None)
    event = elonara_services.event_create(
        host=host, title="Benchmark night", starts_at=timezone.now() + timedelta(days=2),
        ends_at=timezone.now() + timedelta(days=2, hours=2), description="", venue="Main hall",
    )
    profiles = [
        GraphProfile(did=f"did:plc:bench{stamp % 10**8:08d}{i:011d}"[:32], handle=f"guest{i}.bench.test",
                     display_name=f"Guest {i}", avatar_url="")
        for i in range(n)
    ]
    dispatched: list[int] = []
    original = services._dispatch_due_soon
    # Record the after-commit hook firing (it publishes one dispatch message) without timing it twice.
    services._dispatch_due_soon = lambda: (dispatched.append(1), original())

    t0 = time.perf_counter()
    result = services.invitations_enqueue(host=host, target=event, profiles=profiles, message_template="")
    t_create = time.perf_counter() - t0
    services._dispatch_due_soon = original

    # One dispatch round: claims due invitations in small batches and publishes them.
    t1 = time.perf_counter()
    published = tasks.dispatch_due.run()
    t_dispatch = time.perf_counter() - t1

    engine = django.db.connection.vendor
    broker = os.environ["CELERY_BROKER_URL"].split(":", 1)[0]
    queued = Invitation.objects.filter(batch=result.batch, status=Invitation.Status.QUEUED).count()
    print(f"invitations_enqueue: {result.created_count} invitations for one event in {t_create:.3f} s "
          f"({result.created_count / t_create:,.0f}/s) on {engine}; after-commit hook fired: {bool(dispatched)}")
    print(f"dispatch_due (one round): {published} send tasks published to {broker} in {t_dispatch:.3f} s "
          f"({published / t_dispatch:,.0f}/s); {queued} queued")
    print(f"total enqueue (create + publish): {t_create + t_dispatch:.3f} s (target <= 2 s for create)")


if __name__ == "__main__":
    with _stack:
        main()
