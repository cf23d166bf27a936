"""Start a real Celery worker process against the test database (for `services` tests)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def subprocess_database_url() -> str:
    """The URL of the database this test run really uses (pytest-django renames it)."""
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    password = f":{s['PASSWORD']}" if s.get("PASSWORD") else ""
    return f"postgres://{s['USER']}{password}@{s['HOST']}:{s['PORT']}/{s['NAME']}"


@contextmanager
def celery_worker(*, concurrency: int = 1, extra_env: dict[str, str] | None = None,
                  log_path: Path | None = None, beat: bool = True) -> Iterator[subprocess.Popen]:
    """A real worker process (with beat, as production runs one: due invitations are published by
    its `bluesky.dispatch_due`, here every second)."""
    if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
        raise RuntimeError("services tests need CELERY_BROKER_URL=redis://... (scripts/test-services.sh)")
    env = {**os.environ, "DATABASE_URL": subprocess_database_url(), "DJANGO_SETTINGS_MODULE": "config.settings_test"}
    env.setdefault("INVITATIONS_DISPATCH_INTERVAL_SECONDS", "1")
    env.update(extra_env or {})
    log = open(log_path or os.devnull, "wb")
    schedule = tempfile.mkdtemp(prefix="elonara-beat-")
    beat_args = ["--beat", "--schedule", str(Path(schedule) / "schedule")] if beat else []
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO", "--pool=prefork",
         f"--concurrency={concurrency}", "--without-gossip", "--without-mingle", "--without-heartbeat",
         *beat_args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        yield worker
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        shutil.rmtree(schedule, ignore_errors=True)
        log.close()


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()
