"""Queue a Celery task only once the current transaction commits (Zulip's `queue_event_on_commit`).

A task queued inside a transaction could run before the rows it reads are visible, or after they
were rolled back; on commit, it sees exactly what was written. Outside a transaction it is queued
at once.

The task may be named instead of imported: services then need not import their app's tasks module
(which imports the services), so no import cycle is needed to queue work.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import kombu.exceptions
import redis.exceptions
from celery import current_app
from django.db import transaction

logger = logging.getLogger(__name__)
# A publish that failed after its retries (kombu), or the connection under it.
BROKER_UNREACHABLE = (kombu.exceptions.OperationalError, redis.exceptions.ConnectionError,
                      redis.exceptions.TimeoutError, OSError)

# One thread loads the tasks modules; the others wait for it (the loader marks the modules loaded
# before they are imported, so a second thread would otherwise look the name up too early).
_loading = threading.Lock()


def task_named(name: str) -> Any:
    """The task registered under `name`."""
    if name not in current_app.tasks:
        with _loading:
            # Autodiscovery is lazy outside a worker: load every app's tasks module once.
            current_app.loader.import_default_modules()
    return current_app.tasks[name]


def task_on_commit(task: Any, *args: Any, **kwargs: Any) -> None:
    """`task.delay(*args, **kwargs)` after the current transaction commits. `task`: a task, or the
    name it is registered under (looked up when it is queued, so every task module is loaded)."""

    def queue() -> None:
        target = task_named(task) if isinstance(task, str) else task
        try:
            target.delay(*args, **kwargs)
        except BROKER_UNREACHABLE as exc:
            # The write is committed; the broker is down or frozen. Never turn that into a failed
            # request: every write that must happen waits in the database with its due time, and
            # the dispatcher's next round publishes it (bluesky.pipeline, notifications).
            logger.warning("task not queued: broker unreachable", extra={"task": getattr(target, "name", str(task)),
                                                                          "failure": type(exc).__name__})

    transaction.on_commit(queue)
