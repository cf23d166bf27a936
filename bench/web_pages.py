"""Server CPU per request under gunicorn (production settings, PostgreSQL, Redis cache), page by
page, beside a bare Django view (same middleware, a short template, no query) measured in the same
run as the floor; then the member home's time in-process (Django's test client, no server).

The data set is built here: a member in 5 communities with 30 upcoming events on the site, 20
answers and 3 invitations; a host with an event, an invitation batch of 50 and a calendar feed.

Last, first views: after a flush of the page cache, each of BENCH_COLD_MEMBERS members (60, each in
the 5 communities and going to 11 events) asks for each page once, on a new connection; then the
event page again and again while an answer on it changes once a second. BENCH_TLS=1 has gunicorn
serve TLS itself; BENCH_IN_PROCESS_ONLY=1 prints the in-process cold figures alone (no server), with
BENCH_PROFILE=<path> a cProfile and the queries of that page built cold (BENCH_PROFILE_DUMP=<file> keeps
the profile), BENCH_RUN=<file.py> runs that file with the data set (`data`) instead, and
BENCH_FIRST_VIEWS_ONLY=1 runs the server for the first views alone.

CPU is read from /proc for the gunicorn master and its workers before and after each batch, so
the load generator's own CPU is not counted. Figures are printed; nothing is asserted.
Needs DATABASE_URL (PostgreSQL) and REDIS_URL: `make bench` provides them.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(BENCH)]

from invitations_common import _require, fresh_database  # noqa: E402

REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WARMUP = 40
CONCURRENCY = 8
# Members who each view every page once after the cache is flushed (the first-view figures).
COLD_MEMBERS = int(os.environ.get("BENCH_COLD_MEMBERS", "60"))
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(master: int) -> float:
    """utime + stime of the master and its live workers."""
    pids = [master]
    try:
        pids += [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    except OSError:
        pass
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


# BENCH_TLS=1: gunicorn serves TLS itself (a self-signed certificate made for the run), as a
# production front would; the clients below then pay and make the server pay the handshakes.
TLS = os.environ.get("BENCH_TLS", "") not in ("", "0")


def self_signed(directory: Path) -> list[str]:
    """gunicorn's --certfile/--keyfile arguments for a fresh self-signed certificate of 127.0.0.1."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    (directory / "bench.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "bench.key").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                            serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))
    return ["--certfile", str(directory / "bench.crt"), "--keyfile", str(directory / "bench.key")]


def hammer(base: str, path: str, cookies: dict[str, str], count: int, headers: dict[str, str] | None = None) -> float:
    """`count` GETs over CONCURRENCY keep-alive connections; returns wall seconds."""
    todo = iter(range(count))
    lock = threading.Lock()
    errors: list[str] = []

    def run() -> None:
        with httpx.Client(base_url=base, cookies=cookies, headers=headers, timeout=30, verify=not TLS) as client:
            while True:
                with lock:
                    if next(todo, None) is None:
                        return
                response = client.get(path)
                if response.status_code != 200:
                    errors.append(f"{path}: {response.status_code}")

    threads = [threading.Thread(target=run) for _ in range(CONCURRENCY)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        sys.exit(f"requests failed: {errors[:3]}")
    return time.perf_counter() - start


def build_data() -> dict[str, object]:
    """The issue's realistic data set: Bob is a member of 5 communities, with 30 upcoming events on
    the site (most in his communities), 20 answers and 3 invitations; Ann hosts an event with a
    connected identity and an invitation batch of 50."""
    from django.test import Client
    from django.utils import timezone

    from bluesky.models import BlueskyIdentity
    from elonara import services as es
    from invitations import services as inv
    from invitations.models import Invitation
    from members.models import Member
    from tests.invitations.conftest import profile, random_did

    def member(name: str) -> Member:
        m = Member.objects.create_user(username=name, password=secrets.token_urlsafe(12), display_name=name.title())
        BlueskyIdentity.objects.create(member=m, did=random_did(), handle=f"{name}.test", pds_url="https://pds.invalid",
                                       issuer="https://pds.invalid", scope="atproto", access_token="unused",
                                       dpop_private_jwk="{}", connected_at=timezone.now())
        return m

    host, guest = member("ann"), member("bob")
    others = [member(f"m{i}") for i in range(10)]
    communities = [es.community_create(creator=o, name=f"Club {i}", description="Weekly.") for i, o in
                   enumerate(others[:5])]
    for c in communities:
        es.community_join(community=c, member=host)
        es.community_join(community=c, member=guest)
    events = []
    for i in range(30):
        start = timezone.now() + timedelta(days=1 + i)
        owner = others[i % 10]
        community = communities[i % 10] if i % 10 < 5 else None  # others[:5] created the communities
        events.append(es.event_create(host=owner, title=f"Event {i}", starts_at=start,
                                      ends_at=start + timedelta(hours=2), description="Bring friends.", venue="Café",
                                      community=community))
    es.community_organizer_set(community=communities[0], actor=others[0], member=host, organizer=True)
    event = es.event_create(host=host, title="Ann's board games", starts_at=timezone.now() + timedelta(days=2),
                            ends_at=timezone.now() + timedelta(days=2, hours=3), description="", venue="Café",
                            community=communities[0])
    for o in others:
        es.rsvp_set(event=event, member=o, status="going")
    es.rsvp_set(event=event, member=guest, status="going")
    for e in events[:8]:
        es.rsvp_set(event=e, member=host, status="going")
    for n, e in enumerate(events[:10] + events[13:22]):  # + Ann's event: 20 answers (none to his invitations)
        es.rsvp_set(event=e, member=guest, status="maybe" if n % 3 else "going")
    batch = inv.invitations_enqueue(host=host, target=event, message_template="",
                                    profiles=[profile(f"p{i}.test") for i in range(50)]).batch
    Invitation.objects.filter(batch=batch).update(status=Invitation.Status.SENT)
    for e in events[10:13]:
        b = inv.invitations_enqueue(host=e.host, target=e, message_template="",
                                    profiles=[profile("bob.test", did=guest.bluesky_identity.did)]).batch
        b.invitations.update(status=Invitation.Status.SENT)
    _feed, feed_token = es.calendar_feed_issue(member=guest)
    # An API token of Bob's, exchanged for an access token as a script would (15 minutes).
    from members import api_tokens

    secret = api_tokens.api_token_create(member=guest, name="bench", permissions=["read"]).secret
    access = Client(SERVER_NAME="127.0.0.1").post("/api/auth/token/", {"api_token": secret},
                                                  content_type="application/json").json()

    def session(m: Member) -> dict[str, str]:
        c = Client()
        c.force_login(m)
        return {"sessionid": c.cookies["sessionid"].value}

    # The first-view members: each in the 5 communities, going to Ann's event and 10 others, with a feed.
    viewers = []
    for i in range(COLD_MEMBERS):
        v = Member.objects.create_user(username=f"v{i}", password=secrets.token_urlsafe(12), display_name=f"V{i}")
        for c in communities:
            es.community_join(community=c, member=v)
        for e in [event, *events[i % 20:i % 20 + 10]]:
            es.rsvp_set(event=e, member=v, status="going")
        viewers.append({"cookies": session(v), "name": v.username, "feed": es.calendar_feed_issue(member=v)[1]})

    return {"viewers": viewers, "changer": others[0],
            "host": session(host), "guest": session(guest), "guest_member": guest, "event": event.pk,
            "batch": batch.pk, "community": communities[0].slug, "feed_token": feed_token,
            "access_token": access["access_token"]}


def in_process_home(data: dict[str, object], *, runs: int = 200) -> tuple[float, float, float]:
    """Median ms of the member home and of the bare view through Django's test client (no server,
    no TLS), and the member home's median with its per-member fragments cold (cache cleared)."""
    from django.core.cache import cache
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(data["guest_member"])

    def median_ms(path: str, *, cold: bool = False) -> float:
        for _ in range(20):
            client.get(path)
        times = []
        for _ in range(runs):
            if cold:
                cache.clear()
            start = time.perf_counter()
            response = client.get(path)
            times.append(time.perf_counter() - start)
            if response.status_code != 200:
                sys.exit(f"{path}: {response.status_code}")
        return statistics.median(times) * 1000

    home, bare = median_ms("/"), median_ms("/bench/bare/")
    cold = median_ms("/", cold=True)
    client.force_login(data["guest_member"])  # the session lived in the cache too
    return home, bare, cold


def in_process_cold(data: dict[str, object], *, runs: int = 60) -> list[tuple[str, float, float]]:
    """Each page built with nothing cached (the cache cleared before every request), through Django's
    test client: (name, median ms, x the bare view measured the same way)."""
    from django.core.cache import cache
    from django.test import Client

    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(data["guest_member"])
    paths = [("bare view", "/bench/bare/"), ("member home", "/"), ("own profile", "/members/bob/"),
             ("member feed", f"/calendar/feed/{data['feed_token']}.ics"), ("event page", f"/events/{data['event']}/"),
             ("community page", f"/communities/{data['community']}/")]
    # Interleaved: each round asks for every page once, so a busy moment on the machine weighs on
    # the bare view and the pages alike.
    times: dict[str, list[float]] = {name: [] for name, _ in paths}
    for n in range(runs + 5):
        for name, path in paths:
            cache.clear()
            start = time.perf_counter()
            response = client.get(path)
            if n >= 5:
                times[name].append(time.perf_counter() - start)
            if response.status_code != 200:
                sys.exit(f"{path}: {response.status_code}")
    results = [(name, statistics.median(times[name]) * 1000) for name, _ in paths]
    client.force_login(data["guest_member"])
    bare = results[0][1]
    return [(name, ms, ms / bare) for name, ms in results]


def print_cold(cold_pages: list[tuple[str, float, float]]) -> None:
    print("in-process, nothing cached (the cache cleared before each request, pages interleaved, median of 60):")
    for name, ms, times in cold_pages:
        print(f"  {name:26} {ms:8.2f} ms {times:6.1f}x the bare view")


def profile_cold(data: dict[str, object], path: str) -> None:
    """cProfile of 30 cold builds of one page (BENCH_PROFILE=/path/), with the queries of one."""
    import cProfile
    import pstats

    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    path = path.format(**data)
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(data["guest_member"])
    profiler = cProfile.Profile()
    for _ in range(30):
        cache.clear()
        client.force_login(data["guest_member"])
        profiler.runcall(client.get, path)
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    if os.environ.get("BENCH_PROFILE_DUMP"):  # for a closer look: python -m pstats FILE
        profiler.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
    cache.clear()
    client.force_login(data["guest_member"])
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    print(f"{len(queries)} queries:")
    for query in queries:
        print("  ", query["sql"][:220])


def first_views(base: str, server: int, redis_url: str, data: dict[str, object]) -> list[tuple[str, float]]:
    """The first view of each page by every one of the COLD_MEMBERS members after the page cache is
    flushed (as after a deployment), one request each over CONCURRENCY clients: (page, server CPU ms
    per request). Then the event page viewed again and again by the same members while its event
    changes once a second (an answer toggled), each change renewing every viewer's copy."""
    import redis

    from elonara import services as es
    from elonara.models import Event

    viewers = data["viewers"]
    pages = [("bare view, signed in", lambda v: "/bench/bare/"), ("home, member", lambda v: "/"),
             ("profile, own", lambda v: f"/members/{v['name']}/"),
             ("member feed", lambda v: f"/calendar/feed/{v['feed']}.ics"),
             ("event, member", lambda v: f"/events/{data['event']}/"),
             ("community, member", lambda v: f"/communities/{data['community']}/")]

    def run(paths: list[tuple[str, dict[str, str]]]) -> float:
        todo = iter(paths)
        lock = threading.Lock()
        errors: list[str] = []

        def worker() -> None:
            # A new connection per member (their own browser): with TLS, each pays a handshake.
            while True:
                with lock:
                    item = next(todo, None)
                if item is None:
                    return
                with httpx.Client(base_url=base, cookies=item[1], timeout=30, verify=not TLS) as client:
                    response = client.get(item[0])
                if response.status_code != 200:
                    errors.append(f"{item[0]}: {response.status_code}")

        threads = [threading.Thread(target=worker) for _ in range(CONCURRENCY)]
        before = cpu_seconds(server)
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            sys.exit(f"requests failed: {errors[:3]}")
        return (cpu_seconds(server) - before) / len(paths) * 1000

    results = []
    for name, path in pages:
        redis.Redis.from_url(redis_url).flushdb()  # nothing kept: no page, part or member row
        results.append((name, run([(path(v), v["cookies"]) for v in viewers])))
    # One change a second on the event its viewers keep looking at.
    event = Event.objects.get(pk=data["event"])
    stop = threading.Event()

    def change() -> None:
        status = "maybe"
        while not stop.wait(1.0):
            es.rsvp_set(event=event, member=data["changer"], status=status)
            status = "going" if status == "maybe" else "maybe"
        from django.db import connection

        connection.close()

    changer = threading.Thread(target=change)
    path = f"/events/{data['event']}/"
    run([(path, v["cookies"]) for v in viewers])  # every viewer has a copy to lose
    changer.start()
    try:
        results.append(("event, member, 1 change/s", run([(path, v["cookies"]) for v in viewers] * 10)))
    finally:
        stop.set()
        changer.join()
    return results


def print_first_views(base: str, server: int, redis_url: str, data: dict[str, object], floor: float) -> None:
    """First views last: they flush the cache. Rounds interleave the pages, as the warm ones do."""
    firsts: dict[str, list[float]] = {}
    for _ in range(ROUNDS):
        for name, ms in first_views(base, server, redis_url, data):
            firsts.setdefault(name, []).append(ms)
    cold_floor = statistics.median(firsts["bare view, signed in"])
    print(f"first view by {COLD_MEMBERS} different members after a cache flush (server CPU ms per request, median "
          f"of {ROUNDS} rounds; x the bare view's floor above, and x the signed-in bare view's first view):")
    for name, values in firsts.items():
        ms = statistics.median(values)
        against_floor = f"{ms / floor:6.2f}x floor" if floor == floor else "(no warm floor)"  # NaN: first views only
        print(f"  {name:28} {ms:8.2f} ms {against_floor} {ms / cold_floor:6.2f}x signed-in bare")


def kept_memory(redis_url: str, viewers: int) -> tuple[float, float, int]:
    """What the kept copies cost in Redis: bytes of whole-page copies per signed-in viewer, all the
    cache's bytes per viewer, and the hit rate of the run (keyspace hits / lookups), from Redis."""
    import redis

    client = redis.Redis.from_url(redis_url)
    pages = sum(client.memory_usage(key) or 0 for key in client.scan_iter(match="*:response:*", count=1000)
                if b":response:0:" not in key)
    everything = sum(client.memory_usage(key) or 0 for key in client.scan_iter(count=1000))
    stats = client.info("stats")
    lookups = stats["keyspace_hits"] + stats["keyspace_misses"]
    return pages / viewers, everything / viewers, round(100 * stats["keyspace_hits"] / max(lookups, 1))


def serve_rounds(base: str, server: int, redis_url: str, data: dict, in_process: tuple | None) -> None:
    """The warm rounds page by page, the in-process figures (None: first views only), then first views."""
    host, guest, ev = data["host"], data["guest"], data["event"]
    token = {"Authorization": f"Bearer {data['access_token']}"}
    pages = [
        ("bare view (floor)", "/bench/bare/", {}),
        # Not a page: what a signed-in request costs before any page (session, member).
        ("bare view, signed in", "/bench/bare/", guest),
        ("home, visitor", "/", {}),
        ("home, member", "/", guest),
        ("event, host", f"/events/{ev}/", host),
        ("event, member", f"/events/{ev}/", guest),
        ("event, visitor", f"/events/{ev}/", {}),
        ("community, member", f"/communities/{data['community']}/", guest),
        ("community, visitor", f"/communities/{data['community']}/", {}),
        ("profile, own", "/members/bob/", guest),
        ("picker", f"/invitations/event/{ev}/invite/", host),
        ("progress", f"/invitations/batches/{data['batch']}/", host),
        ("event .ics", f"/events/{ev}/calendar.ics", {}),
        ("community feed", f"/communities/{data['community']}/calendar.ics", {}),
        ("member feed", f"/calendar/feed/{data['feed_token']}.ics", {}),
        ("API events", "/api/events/", guest),
        ("API events, API token", "/api/events/", {}, token),
        ("API batch progress", f"/api/invitations/batches/{data['batch']}/", host),
        ("API identity", "/api/bluesky/identity/", host),
    ]
    pages = [(*page, None) if len(page) == 3 else page for page in pages]
    if in_process is None:
        # While working on a page's first view: only those figures, x the signed-in bare view.
        for _name, path, cookies, headers in pages[:3]:
            hammer(base, path, cookies, WARMUP, headers)
        print_first_views(base, server, redis_url, data, float("nan"))
        return
    print(f"gunicorn{' with TLS' if TLS else ''}, 2 sync workers, {REQUESTS} requests per page and round, "
          f"{ROUNDS} rounds (median shown), {CONCURRENCY} concurrent clients, {os.cpu_count()} cores")
    import redis

    redis.Redis.from_url(redis_url).config_resetstat()  # the hit rate counts this run only
    for _name, path, cookies, headers in pages:
        hammer(base, path, cookies, WARMUP, headers)
    # Rounds interleave the pages, so a noisy moment on the shared machine hits all of them.
    cpu: dict[str, list[float]] = {name: [] for name, *_ in pages}
    rate: dict[str, list[float]] = {name: [] for name, *_ in pages}
    for _ in range(ROUNDS):
        for name, path, cookies, headers in pages:
            before = cpu_seconds(server)
            wall = hammer(base, path, cookies, REQUESTS, headers)
            cpu[name].append((cpu_seconds(server) - before) / REQUESTS * 1000)
            rate[name].append(REQUESTS / wall)
    floor = statistics.median(cpu[pages[0][0]])
    print(f"{'page':28} {'server CPU ms/req':>18} {'x floor':>8} {'req/s':>8}")
    for name, *_ in pages:
        per_request = statistics.median(cpu[name])
        print(f"{name:28} {per_request:18.2f} {per_request / floor:8.2f} {statistics.median(rate[name]):8.0f}")
    home_ms, bare_ms, cold_ms, cold_pages = in_process
    print(f"in-process (test client, no server): member home {home_ms:.2f} ms (fragments cold: "
          f"{cold_ms:.2f} ms), bare view {bare_ms:.2f} ms (median of 200)")
    print_cold(cold_pages)
    per_viewer_pages, per_viewer_all, hit_rate = kept_memory(redis_url, viewers=2)
    print(f"kept in Redis after the warm rounds (2 signed-in viewers): whole-page copies "
          f"{per_viewer_pages / 1024:.1f} KiB per viewer, everything {per_viewer_all / 1024:.1f} KiB per "
          f"viewer; cache hit rate {hit_rate} %")
    print_first_views(base, server, redis_url, data, floor)
    # After the last round of first views: each of the members has seen every page once.
    _, per_member, _ = kept_memory(redis_url, viewers=COLD_MEMBERS)
    print(f"kept in Redis after the first views: {per_member / 1024:.1f} KiB per active member "
          f"({COLD_MEMBERS} members, each page once; shared parts included)")


def main() -> None:
    from cryptography.fernet import Fernet

    db_url = _require("DATABASE_URL")
    redis_url = _require("REDIS_URL")
    port = free_port()
    base = f"{'https' if TLS else 'http'}://127.0.0.1:{port}"
    with fresh_database(db_url) as database:
        env = {
            **os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SECURE_SSL_REDIRECT": "false",
            "EMAIL_URL": "smtp://127.0.0.1:9",
            "ELONARA_PUBLIC_URL": base, "DATABASE_URL": database, "REDIS_URL": redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "web_common", "PYTHONPATH": f"{BENCH}:{ROOT}",
            # One benchmark member makes thousands of API calls: the per-member API limit would refuse
            # them (its cost, one cache increment per request, is still measured).
            "RATE_LIMIT_API": "100000000/600",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        os.environ.update(env)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        # Production serves hashed static files from the manifest: collect them as a deployment does.
        call_command("collectstatic", interactive=False, verbosity=0)
        data = build_data()
        if os.environ.get("BENCH_RUN"):
            # A closer look at one piece: the file runs with this data set (`data`) and nothing else.
            exec(compile(Path(os.environ["BENCH_RUN"]).read_text(), os.environ["BENCH_RUN"], "exec"),
                 {"data": data, "__name__": "bench_run"})
            return
        if os.environ.get("BENCH_IN_PROCESS_ONLY"):
            # The in-process figures alone (no server): a quick check while working on a page.
            print_cold(in_process_cold(data))
            if os.environ.get("BENCH_PROFILE"):
                profile_cold(data, os.environ["BENCH_PROFILE"])
            return
        first_views_only = os.environ.get("BENCH_FIRST_VIEWS_ONLY") not in (None, "", "0")
        from django.db import connections

        connections.close_all()
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-gunicorn-{port}.log", "wb")
        tls = self_signed(Path(log.name).parent) if TLS else []
        server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py",
                                   "--access-logfile", "/dev/null", *tls],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1, verify=not TLS).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            serve_rounds(base, server.pid, redis_url, data, None if first_views_only else
                         (*in_process_home(data), in_process_cold(data)))
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    main()
