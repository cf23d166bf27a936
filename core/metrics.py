"""Elonara's own Prometheus metrics, beside django-prometheus's request metrics (same registry).

Call the small helpers below from services; never touch the metric objects elsewhere, so names,
labels and their allowed values stay in one place. Label values are short codes from a closed
set: anything else becomes "other", so a label can never carry a handle, a URL or a secret and
the number of series stays bounded.

Under gunicorn and Celery every process counts on its own; with PROMETHEUS_MULTIPROC_DIR set
(`make serve`, the systemd units) /metrics adds up every process of the machine.
"""

from __future__ import annotations

import re

from prometheus_client import Counter, Histogram

_LABEL = re.compile(r"^[a-z0-9_]{1,40}$")


def _label(value: str) -> str:
    value = (value or "").strip().lower()
    return value if _LABEL.match(value) else "other"


INVITATIONS_QUEUED = Counter(
    "elonara_invitations_queued", "Invitations handed to the sending queue (new, or retried by the host)."
)
INVITATIONS_SENT = Counter("elonara_invitations_sent", "Invitation posts published on Bluesky.")
INVITATIONS_FAILED = Counter(
    "elonara_invitations_failed", "Invitations that ended failed, by reason code.", ["reason"]
)
INVITATIONS_OPTED_OUT = Counter(
    "elonara_invitations_opted_out", "Invitees who stopped invitations, by scope (host, all).", ["scope"]
)
PUBLISH_LAG = Histogram(
    "elonara_invitation_publish_lag_seconds",
    "Seconds from an invitation's creation to its post being published.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 4 * 3600, 12 * 3600, 24 * 3600, float("inf")),
)
BLUESKY_RATE_LIMITED = Counter(
    "elonara_bluesky_rate_limited", "HTTP 429 answers from Bluesky, by posting account kind.", ["account_kind"]
)
TOKEN_REFRESHES = Counter(
    "elonara_bluesky_token_refreshes", "OAuth token refreshes, by outcome (ok, invalid_grant, error).", ["outcome"]
)
CONNECTS_STARTED = Counter("elonara_bluesky_connects_started", "Connect Bluesky sign-ins started.")
CONNECTS_COMPLETED = Counter("elonara_bluesky_connects_completed", "Connect Bluesky sign-ins completed.")
CONNECTS_REFUSED = Counter(
    "elonara_bluesky_connects_refused", "Connect Bluesky sign-ins refused, by error code.", ["code"]
)


# --- invitations (wired in invitations/services.py) ---------------------------------------
def invitation_queued(n: int = 1) -> None:
    if n > 0:
        INVITATIONS_QUEUED.inc(n)


def invitation_sent() -> None:
    INVITATIONS_SENT.inc()


def invitation_failed(reason: str) -> None:
    INVITATIONS_FAILED.labels(reason=_label(reason)).inc()


def invitation_opted_out(scope: str) -> None:
    INVITATIONS_OPTED_OUT.labels(scope="all" if scope == "all" else "host").inc()


def publish_lag(seconds: float) -> None:
    PUBLISH_LAG.observe(max(seconds, 0.0))


# --- Bluesky -------------------------------------------------------------------------------
def bluesky_rate_limited(account_kind: str) -> None:
    """A 429 from a PDS/App View. account_kind: the agent ("legacy", "oauth") or "graph"."""
    BLUESKY_RATE_LIMITED.labels(account_kind=_label(account_kind)).inc()


def token_refresh(outcome: str) -> None:
    """outcome: "ok", "invalid_grant" (ended by the server), "session_ended" (issuer moved, other
    account, client key gone) or "error" (transient)."""
    TOKEN_REFRESHES.labels(outcome=_label(outcome)).inc()


def connect_started() -> None:
    CONNECTS_STARTED.inc()


def connect_completed() -> None:
    CONNECTS_COMPLETED.inc()


def connect_refused(code: str) -> None:
    """code: the AtprotoError code (state_unknown, par_refused, did_taken, ...)."""
    CONNECTS_REFUSED.labels(code=_label(code)).inc()


# --- network events (wired in network/services.py) -------------------------------------------
NETWORK_EVENTS = Counter(
    "elonara_network_events", "Event records of other apps read from the network, by outcome "
    "(kept, updated, deleted, invalid, too_large, no_start, bad_time, past, blocked, full).", ["outcome"]
)


def network_event(outcome: str) -> None:
    NETWORK_EVENTS.labels(outcome=_label(outcome)).inc()


# --- the firehose consumer (network/firehose.py) ----------------------------------------------
FIREHOSE_FRAMES_SKIPPED = Counter(
    "elonara_firehose_frames_skipped", "Firehose frames skipped, by reason (undecodable: bad or too "
    "deeply nested; too_large: above the frame size limit).", ["reason"]
)
OUTSIDE_RSVPS_REFUSED = Counter(
    "elonara_outside_rsvps_refused", "Outside answers not kept because the event holds its cap of them.",
)


FIREHOSE_FRAMES_REFUSED = Counter(
    "elonara_firehose_frames_refused", "Firehose frames refused because they do not prove what they claim, by "
    "reason (block_hash: a block does not match its CID; bad_commit: no signed v3 commit; wrong_repo: signed "
    "for another repository; no_key: the author's key could not be learnt; signature: not signed by it; "
    "proof: the signed tree does not hold the operation; replay: not newer than a commit already seen; "
    "future_rev: dated ahead of our clock).",
    ["reason"],
)
FIREHOSE_REPO_EVENTS = Counter(
    "elonara_firehose_repo_events", "#identity and #sync events read from the firehose.", ["kind"]
)
_REFUSAL_REASONS = frozenset({"block_hash", "bad_commit", "wrong_repo", "no_key", "signature", "proof", "replay",
                              "future_rev"})


def firehose_frame_refused(reason: str) -> None:
    FIREHOSE_FRAMES_REFUSED.labels(reason=reason if reason in _REFUSAL_REASONS else "other").inc()


def firehose_repo_event(kind: str) -> None:
    FIREHOSE_REPO_EVENTS.labels(kind=kind if kind in ("identity", "sync") else "other").inc()


def firehose_frame_skipped(reason: str) -> None:
    FIREHOSE_FRAMES_SKIPPED.labels(reason=_label(reason)).inc()


def outside_rsvp_refused() -> None:
    OUTSIDE_RSVPS_REFUSED.inc()


# --- answers (elonara/answers.py) -----------------------------------------------------------
ANSWERS_TAKEN = Counter(
    "elonara_answers_taken", "Answers to our events by door (page, api, network, adopted) and what the "
    "rules made of them (going, maybe, not_going, waitlisted, requested, declined, ignored).", ["door", "outcome"]
)


def answer_taken(door: str, outcome: str) -> None:
    ANSWERS_TAKEN.labels(door=_label(door), outcome=_label(outcome)).inc()


# --- the door (elonara/checkin.py) ---------------------------------------------------------------
CHECKINS = Counter(
    "elonara_checkins", "Check-ins at the door by outcome (in, already, forged, other_event, not_going, "
    "cancelled).", ["outcome"]
)


def checkin_taken(outcome: str) -> None:
    CHECKINS.labels(outcome=_label(outcome)).inc()
