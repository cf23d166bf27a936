"""Benchmark: the firehose consumer's frame handling on one core, and where the time goes.

1. Records real frames from the local PDS's com.atproto.sync.subscribeRepos while accounts write
   posts, likes and profile updates (other collections) and calendar events and RSVPs (ours).
   `--replay FILE` reads a recording instead; `--save FILE` keeps this one.
2. Builds a stream of `--frames` frames (default 100,000) where only `--calendar-share` (default
   0.5 %, far more than on the real network) touch our collections; every frame is re-encoded with
   libipld under its own sequence number.
3. Replays it through `FirehoseFilter` as the consumer does (byte prefilter, header/body decode,
   path filter, CAR read of kept commits with every block hashed against its CID, a cursor
   checkpoint decode every 2 s) pinned to one core: with commit verification as the consumer does
   it (the author's signature, the tree proof of each kept op, the replay guard; the DID documents
   from the peer's PLC, cached as in production), without it (the figure before issue 40), and
   with the prefilter off (every frame decoded) to show what the prefilter saves. The stream
   repeats the recorded calendar commits, so after the first round each is refused as a replay,
   after the signature and proof checks (the work is the same as for a new commit).

4. Replays it once more through the whole consumer as its live loop does (`FirehoseConsumer.receive`
   per frame, the batch applied when full or due, `flush` at the end; Django, SQLite in a temporary
   file, or PostgreSQL with `--database-url`): kept frames look up their event and store the cursor
   in the batch's transaction; the queries per kept commit are counted; none of the
   subjects is one of our events there, so no RSVP rows are written; the event records (another
   app's, to that database) are validated and kept as network events, their RSVPs counted.

    ELONARA_PEER_STATE=<peer state file> .venv/bin/python bench/firehose_consumer.py
    ELONARA_PEER_STATE=<peer state file> .venv/bin/python bench/firehose_consumer.py --replay FILE
    (--replay without a peer: no verified figures; the recording's DID documents live in its PLC)
"""

from __future__ import annotations

import argparse
import os
import secrets
import struct
import sys
import threading
import time
from pathlib import Path

import httpx
import libipld
from websockets.sync.client import connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bluesky.atproto import AtprotoError
from bluesky.atproto.firehose import FirehoseFilter, subscribe_url
from bluesky.atproto.http import SafeHttpClient
from bluesky.atproto.identity import IdentityResolver
from bluesky.atproto.repo import CommitVerifier, KeyUnavailable, VerificationError, signing_key_in

CALENDAR = ("community.lexicon.calendar.event", "community.lexicon.calendar.rsvp")
NOW = "2026-11-26T10:00:00.000Z"
# Recorded events start in the future: the consumer keeps other apps' upcoming events (network.models).
STARTS = "2036-11-26T18:00:00.000Z"


def _session(client: httpx.Client, account: dict) -> tuple[str, dict]:
    body = client.post("/xrpc/com.atproto.server.createSession",
                       json={"identifier": account["handle"], "password": account["app_password"]}).raise_for_status()
    return account["did"], {"Authorization": f"Bearer {body.json()['accessJwt']}"}


def _new_account(client: httpx.Client) -> tuple[str, dict]:
    """A fresh account: like most of the network, its repository has no calendar records."""
    handle = f"bench{secrets.token_hex(4)}.test"
    body = client.post("/xrpc/com.atproto.server.createAccount", json={
        "handle": handle, "email": f"{handle}@example.test", "password": secrets.token_urlsafe(16)}).raise_for_status()
    return body.json()["did"], {"Authorization": f"Bearer {body.json()['accessJwt']}"}


def _create(client, did, headers, collection, record) -> dict:
    return client.post("/xrpc/com.atproto.repo.createRecord", headers=headers,
                       json={"repo": did, "collection": collection, "record": record}).raise_for_status().json()


def record_frames(peer: dict, *, rounds: int, calendar_every: int = 10) -> list[bytes]:
    """Write to the PDS while reading its firehose; the frames it sent, in order."""
    frames: list[bytes] = []
    done = threading.Event()
    connected = threading.Event()

    def read() -> None:
        with connect(subscribe_url(peer["pds_url"], cursor=None), max_size=None) as ws:
            connected.set()
            idle_since = None
            while True:
                try:
                    frames.append(ws.recv(timeout=0.5))
                    idle_since = None
                except TimeoutError:
                    if done.is_set():
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since > 1.5:
                            return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    connected.wait(10)
    time.sleep(0.3)
    with httpx.Client(base_url=peer["pds_url"], timeout=30) as client:
        strangers = [_new_account(client) for _ in range(3)]
        members = [_session(client, peer["accounts"][name]) for name in ("alice", "bob", "carol")]
        events = []
        for n in range(rounds):
            for i, (did, headers) in enumerate(strangers):
                post = _create(client, did, headers, "app.bsky.feed.post",
                               {"$type": "app.bsky.feed.post", "text": f"bench post {n}/{i} ☕ " * 3, "createdAt": NOW,
                                "langs": ["en"]})
                other_did, other_headers = strangers[(i + 1) % 3]
                _create(client, other_did, other_headers, "app.bsky.feed.like",
                        {"$type": "app.bsky.feed.like", "subject": {"uri": post["uri"], "cid": post["cid"]},
                         "createdAt": NOW})
            if n % calendar_every == 0:
                did, headers = members[0]
                events.append(_create(client, did, headers, CALENDAR[0], {
                    "$type": CALENDAR[0], "name": f"Bench event {n}", "createdAt": NOW, "startsAt": STARTS,
                    "mode": f"{CALENDAR[0]}#inperson", "status": f"{CALENDAR[0]}#scheduled",
                    "locations": [{"$type": "community.lexicon.location.address", "country": "PT",
                                   "locality": "Lisboa"}]}))
                for did, headers in members[1:]:
                    _create(client, did, headers, CALENDAR[1], {
                        "$type": CALENDAR[1], "status": f"{CALENDAR[1]}#going", "createdAt": NOW,
                        "subject": {"uri": events[-1]["uri"], "cid": events[-1]["cid"]}})
    done.set()
    reader.join(30)
    return frames


def save(frames: list[bytes], path: str) -> None:
    with open(path, "wb") as f:
        for frame in frames:
            f.write(struct.pack(">I", len(frame)))
            f.write(frame)


def load(path: str) -> list[bytes]:
    data = Path(path).read_bytes()
    frames, offset = [], 0
    while offset < len(data):
        (size,) = struct.unpack_from(">I", data, offset)
        frames.append(data[offset + 4: offset + 4 + size])
        offset += 4 + size
    return frames


def is_calendar(frame: bytes) -> bool:
    header, body = libipld.decode_dag_cbor_multi(frame)
    return header.get("t") == "#commit" and any(
        op["path"].startswith(tuple(f"{c}/" for c in CALENDAR)) for op in body.get("ops", []))


def build_stream(recorded: list[bytes], *, total: int, calendar_share: float) -> list[bytes]:
    commits = [f for f in recorded if libipld.decode_dag_cbor_multi(f)[0].get("t") == "#commit"]
    ours = [f for f in commits if is_calendar(f)]
    others = [f for f in commits if not is_calendar(f)]
    if not ours or not others:
        sys.exit("the recording has no calendar commits or no other commits")
    every = max(int(round(1 / calendar_share)), 1) if calendar_share > 0 else total + 1
    stream = []
    for seq in range(1, total + 1):
        source = ours[seq % len(ours)] if seq % every == 0 else others[seq % len(others)]
        header, body = libipld.decode_dag_cbor_multi(source)
        body["seq"] = seq
        stream.append(libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body))
    return stream


def build_fresh_stream(recorded: list[bytes], *, total: int, calendar_share: float) -> list[bytes]:
    """Like build_stream, but each recorded calendar commit appears once, in the order the PDS sent
    it: every kept commit is new to the consumer, so each one costs its whole database work (no
    replay refusals). The share is what the recording allows."""
    commits = [f for f in recorded if libipld.decode_dag_cbor_multi(f)[0].get("t") == "#commit"]
    ours = [f for f in commits if is_calendar(f)]
    others = [f for f in commits if not is_calendar(f)]
    every = max(int(round(1 / calendar_share)), 1)
    total = min(total, len(ours) * every)
    stream, taken = [], 0
    for seq in range(1, total + 1):
        if seq % every == 0 and taken < len(ours):
            source, taken = ours[taken], taken + 1
        else:
            source = others[seq % len(others)]
        header, body = libipld.decode_dag_cbor_multi(source)
        body["seq"] = seq
        stream.append(libipld.encode_dag_cbor(header) + libipld.encode_dag_cbor(body))
    return stream


def key_source(plc_url: str):
    resolver = IdentityResolver(http=SafeHttpClient(allow_insecure=True), plc_url=plc_url)

    def keys(did: str, fresh: bool) -> str:
        try:
            return signing_key_in(resolver.resolve_did(did, fresh=fresh), did)
        except AtprotoError as exc:
            raise KeyUnavailable(type(exc).__name__) from exc

    return keys


def replay(stream: list[bytes], *, prefilter: bool,
           verifier: CommitVerifier | None = None) -> tuple[float, float, FirehoseFilter, dict[str, int], float]:
    filt = FirehoseFilter(CALENDAR)
    refused: dict[str, int] = {}
    verify_seconds = 0.0
    last_checkpoint = time.monotonic()
    wall, cpu = time.perf_counter(), time.process_time()
    for frame in stream:
        need_seq = not prefilter or time.monotonic() - last_checkpoint > 2.0
        result = filt.parse(frame, need_seq=need_seq)
        if need_seq and result is not None:
            last_checkpoint = time.monotonic()
        if verifier is not None and result is not None and (result.ops or result.refused):
            started = time.perf_counter()
            try:
                if result.refused is not None:
                    raise result.refused
                verifier.verify(repo=result.repo, rev=result.rev, commit=result.commit, blocks=result.blocks,
                                ops=result.claims)
                verifier.accept(result.repo, result.rev)
                refused["verified"] = refused.get("verified", 0) + 1
            except VerificationError as exc:
                refused[exc.reason] = refused.get(exc.reason, 0) + 1
            verify_seconds += time.perf_counter() - started
    return time.perf_counter() - wall, time.process_time() - cpu, filt, refused, verify_seconds


def full_consumer(stream: list[bytes], fresh: list[bytes], *, plc_url: str, database_url: str = "") -> None:
    """Both streams through FirehoseConsumer.handle on one database: SQLite in a temporary file, or
    `database_url` (PostgreSQL) when given. Django is set up once per process."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        # The consumer verifies each kept commit: DID documents from the peer's PLC (cached).
        os.environ["ATPROTO_PLC_URL"] = plc_url
        os.environ["ATPROTO_ALLOW_INSECURE_HOSTS"] = "true"
        os.environ["DATABASE_URL"] = database_url or f"sqlite:///{tmp}/bench.sqlite3"
        os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings_test"
        os.environ["CELERY_BROKER_URL"] = "memory://"
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from django.db import connection

        from network.firehose import FirehoseConsumer

        database = connection.vendor
        consumer = FirehoseConsumer(source="http://127.0.0.1:9")
        from core.metrics import FIREHOSE_FRAMES_REFUSED

        def refusals() -> dict[str, int]:
            return {sample.labels["reason"]: int(sample.value) for metric in FIREHOSE_FRAMES_REFUSED.collect()
                    for sample in metric.samples if sample.name.endswith("_total") and sample.value}

        # The replay guard's revs outlive a process (the state cache): forget the recorded authors'
        # so a second run of the bench sees the fresh stream as new again.
        from core.cache import state_cache

        authors = {libipld.decode_dag_cbor_multi(f)[1].get("repo") for f in fresh + stream if is_calendar(f)}
        state_cache().delete_many([f"firehose:rev:{did}" for did in authors])
        # Likewise the rows a previous run kept in a database given with --database-url (and its
        # cursor, past every sequence number here): otherwise "new" commits would update them.
        from network.models import Creator, FirehoseCursor, NetworkAnswer

        NetworkAnswer.objects.filter(did__in=authors).delete()
        Creator.objects.filter(did__in=authors).delete()
        FirehoseCursor.objects.filter(source=consumer.source).delete()
        # Warm up on frames of other collections only: a calendar commit seen now would make the
        # fresh stream's older revisions replays.
        for frame in [f for f in stream[:2000] if not is_calendar(f)]:
            consumer.handle(frame)
        runs = [("every calendar commit new", fresh), ("the calendar commits repeated", stream)]
        queries = [0]

        def counted(execute, sql, params, many, context):
            queries[0] += 1
            return execute(sql, params, many, context)

        for label, frames in runs:
            if not frames:
                continue
            before, kept_before = refusals(), consumer.filter.stats.kept_ops
            queries[0] = 0
            with connection.execute_wrapper(counted):  # a counter: costs no round trip of its own
                wall, cpu = time.perf_counter(), time.process_time()
                for frame in frames:
                    consumer.receive(frame)
                consumer.flush()
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            calendar = sum(1 for f in frames if is_calendar(f))
            refused = {k: v - before.get(k, 0) for k, v in refusals().items() if v - before.get(k, 0)}
            print(f"whole consumer (FirehoseConsumer.receive, {database}, verification on), {label} ({calendar:,} of "
                  f"{len(frames):,} frames): {len(frames) / wall:,.0f} frames/s wall, {len(frames) / cpu:,.0f} "
                  f"frames/s CPU; {consumer.filter.stats.kept_ops - kept_before:,} kept ops; refused "
                  f"{refused or 'none'}; {queries[0] / max(calendar, 1):.2f} statements per kept commit "
                  f"(BEGIN/COMMIT not counted)")
        from network.models import NetworkEvent

        print(f"  event records of other apps kept as network events: {NetworkEvent.objects.count():,}")
        from django.db import connections

        connections.close_all()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("--replay", default="")
    parser.add_argument("--save", default="")
    parser.add_argument("--rounds", type=int, default=170)
    parser.add_argument("--frames", type=int, default=100_000)
    parser.add_argument("--calendar-share", type=float, default=0.005)
    parser.add_argument("--calendar-every", type=int, default=1,
                        help="record calendar writes every N rounds (more distinct calendar commits)")
    parser.add_argument("--consumer-only", action="store_true", help="only the whole-consumer runs")
    parser.add_argument("--database-url", default="",
                        help="the whole consumer on this database (default: SQLite, then $DATABASE_URL if it is "
                             "PostgreSQL, in a second process)")
    return parser.parse_args()


def _peer_state() -> dict:
    state = os.environ.get("ELONARA_PEER_STATE")
    if not state:
        return {}
    import json

    return json.loads(Path(state).read_text())


def _recorded_frames(args: argparse.Namespace, peer: dict) -> list[bytes]:
    if args.replay:
        recorded = load(args.replay)
    else:
        if not peer:
            sys.exit("set ELONARA_PEER_STATE (a running tests.peer) or pass --replay FILE")
        recorded = record_frames(peer, rounds=args.rounds, calendar_every=args.calendar_every)
    if args.save:
        save(recorded, args.save)
    return recorded


def _filter_runs(stream: list[bytes], *, plc_url: str) -> None:
    """The filter alone (prefilter and verification on or off), one line of figures per run."""
    verifier = CommitVerifier(keys=key_source(plc_url)) if plc_url else None
    runs = [("with byte prefilter, verification on", True, verifier),
            ("with byte prefilter, verification off (before issue 40)", True, None),
            ("prefilter off (every frame decoded), verification on", False, verifier)]
    for label, prefilter, checker in runs:
        if checker is None and label.endswith("on"):
            print(f"{label}: skipped (no PLC: set ELONARA_PEER_STATE)")
            continue
        if checker is not None:
            checker = CommitVerifier(keys=checker.keys)  # a fresh replay guard; the key cache stays warm
        replay(stream[:2000], prefilter=prefilter, verifier=checker)  # warm-up (and the DID documents)
        if checker is not None:
            checker = CommitVerifier(keys=checker.keys)
        wall, cpu, filt, outcomes, verify_seconds = replay(stream, prefilter=prefilter, verifier=checker)
        s = filt.stats
        print(f"{label}: {len(stream) / wall:,.0f} frames/s wall, {len(stream) / cpu:,.0f} frames/s CPU (one core)")
        print(f"  frames skipped undecoded {s.skipped_by_bytes:,}; decoded {s.decoded:,}; "
              f"CAR read {s.car_decoded:,}; kept ops {s.kept_ops:,}; errors {s.errors}")
        if checker is not None:
            checked = sum(outcomes.values())
            print(f"  commits verified {checked:,} ({verify_seconds / max(checked, 1) * 1e6:,.0f} µs each): {outcomes}")
        other = max(wall - s.filter_seconds - s.decode_seconds - verify_seconds, 0.0)
        print(f"  time: prefilter {s.filter_seconds:.3f} s ({s.filter_seconds / wall:.0%}), "
              f"header/body decode + path filter {s.decode_seconds - s.car_seconds:.3f} s "
              f"({(s.decode_seconds - s.car_seconds) / wall:.0%}), CAR read + hash {s.car_seconds:.3f} s "
              f"({s.car_seconds / wall:.0%}), signature + proof {verify_seconds:.3f} s ({verify_seconds / wall:.0%}), "
              f"loop/clock {other:.3f} s ({other / wall:.0%})")


def _whole_consumer_runs(args: argparse.Namespace, recorded: list[bytes], stream: list[bytes], fresh: list[bytes],
                         *, plc_url: str) -> None:
    """The whole consumer on SQLite, then on $DATABASE_URL's PostgreSQL in a second process."""
    if not plc_url:
        print("whole consumer: skipped (every kept commit needs its author's DID document: set ELONARA_PEER_STATE)")
        return
    full_consumer(stream, fresh, plc_url=plc_url)
    postgres = os.environ.get("DATABASE_URL", "")
    if postgres.startswith(("postgres://", "postgresql://")):
        import subprocess
        import tempfile

        with tempfile.NamedTemporaryFile(suffix=".frames") as recording:
            save(recorded, recording.name)
            subprocess.run([sys.executable, __file__, "--replay", recording.name, "--consumer-only",
                            "--frames", str(args.frames), "--calendar-share", str(args.calendar_share),
                            "--database-url", postgres], check=True)


def main() -> None:
    args = _arguments()
    peer = _peer_state()
    plc_url = peer.get("plc_url", "")
    recorded = _recorded_frames(args, peer)
    sizes = sorted(len(f) for f in recorded)
    print(f"recorded: {len(recorded)} real frames from the PDS, median {sizes[len(sizes) // 2]} bytes, "
          f"{sum(1 for f in recorded if is_calendar(f))} touching calendar collections")

    stream = build_stream(recorded, total=args.frames, calendar_share=args.calendar_share)
    fresh = build_fresh_stream(recorded, total=args.frames, calendar_share=args.calendar_share)
    mean = sum(len(f) for f in stream) / len(stream)
    print(f"stream: {len(stream)} frames (mean {mean:.0f} bytes), {args.calendar_share:.2%} calendar")
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    if args.consumer_only:
        full_consumer(stream, fresh, plc_url=plc_url, database_url=args.database_url)
        return
    _filter_runs(stream, plc_url=plc_url)
    _whole_consumer_runs(args, recorded, stream, fresh, plc_url=plc_url)


if __name__ == "__main__":
    main()
