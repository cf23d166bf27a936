"""The "Upcoming" page with 100,000 stored network events: server CPU per request under gunicorn
(production settings, PostgreSQL, Redis cache) beside the bare view (same middleware, a short
template, no query) measured in the same run as the floor.

The data set: 100,000 upcoming network events by 5,000 creators (2 % of them our members), 30 of
our own events, a member who follows 300 creators (with their follows copied, as the refresh task
leaves them), 20,000 answers to network events. Figures are printed; nothing is asserted.
Needs DATABASE_URL (PostgreSQL) and REDIS_URL: `make bench` provides them.
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench.invitations_common import _require, fresh_database  # noqa: E402
from bench.web_pages import cpu_seconds, free_port, hammer  # noqa: E402

NETWORK_EVENTS = int(os.environ.get("BENCH_NETWORK_EVENTS", "100000"))
CREATORS = 5000
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
ROUNDS = 3
WARMUP = 30


def build_data() -> dict[str, object]:
    from django.test import Client
    from django.utils import timezone

    from bluesky.models import BlueskyIdentity
    from elonara import services as es
    from members.models import Member
    from network.models import Creator, FollowedAccount, FollowSync, NetworkAnswer, NetworkEvent
    from tests.invitations.conftest import random_did

    rng = random.Random(21)
    now = timezone.now()
    guest = Member.objects.create_user(username="bob", password=secrets.token_urlsafe(12), display_name="Bob")
    BlueskyIdentity.objects.create(member=guest, did=random_did(), handle="bob.test", pds_url="https://pds.invalid",
                                   issuer="https://pds.invalid", scope="atproto", access_token="unused",
                                   dpop_private_jwk="{}", connected_at=now)
    creators = Creator.objects.bulk_create([Creator(did=random_did(), handle=f"c{i}.test", display_name=f"C {i}",
                                                    profile_checked_at=now) for i in range(CREATORS)])
    hosts = []
    for i, creator in enumerate(creators[: CREATORS // 50]):  # 2 % are our members
        m = Member.objects.create_user(username=f"m{i}", password=secrets.token_urlsafe(12))
        BlueskyIdentity.objects.create(member=m, did=creator.did, handle=creator.handle, pds_url="https://pds.invalid",
                                       issuer="https://pds.invalid", scope="atproto", access_token="unused",
                                       dpop_private_jwk="{}", connected_at=now)
        hosts.append(m)
    for i in range(30):
        start = now + timedelta(days=1 + i)
        es.event_create(host=hosts[i], title=f"Event {i}", starts_at=start, ends_at=start + timedelta(hours=2),
                        description="Bring friends.", venue="Café")
    words = ["go", "chess", "picnic", "meetup", "python", "jazz", "climbing", "reading", "film", "bike"]
    batch = []
    for i in range(NETWORK_EVENTS):
        start = now + timedelta(minutes=rng.randrange(10, 60 * 24 * 180))
        creator = creators[rng.randrange(CREATORS)]
        name = f"{rng.choice(words).title()} {rng.choice(words)} night {i}"
        batch.append(NetworkEvent(
            creator=creator, uri=f"at://{creator.did}/community.lexicon.calendar.event/3lbench{i:07d}",
            rkey=f"3lbench{i:07d}", cid="bafyrei" + "a" * 52, name=name,
            description=f"All about {rng.choice(words)} and {rng.choice(words)}. " * 5, starts_at=start,
            ends_at=start + timedelta(hours=2), mode=rng.choice(["inperson", "virtual", "hybrid"]),
            place="Somewhere, PT", seq=i))
        if len(batch) == 5000:
            NetworkEvent.objects.bulk_create(batch)
            batch = []
    NetworkEvent.objects.bulk_create(batch)
    followed = rng.sample(creators, 300)
    FollowedAccount.objects.bulk_create([FollowedAccount(member=guest, did=c.did) for c in followed])
    FollowSync.objects.create(member=guest, synced_at=now + timedelta(days=1), count=300)
    ids = list(NetworkEvent.objects.values_list("pk", flat=True)[:20000])
    NetworkAnswer.objects.bulk_create([
        NetworkAnswer(event_id=pk, did=rng.choice(followed).did if n % 10 == 0 else random_did(),
                      uri=f"at://x/community.lexicon.calendar.rsvp/{n}", cid="b", status="going")
        for n, pk in enumerate(ids)], batch_size=5000)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client()
    client.force_login(guest)
    return {"guest": {"sessionid": client.cookies["sessionid"].value}}


def main() -> None:
    from cryptography.fernet import Fernet

    db_url = _require("DATABASE_URL")
    redis_url = _require("REDIS_URL")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with fresh_database(db_url) as database:
        env = {
            **os.environ, "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SECURE_SSL_REDIRECT": "false",
            "ELONARA_PUBLIC_URL": base, "DATABASE_URL": database, "REDIS_URL": redis_url,
            "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "2", "LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "web_common", "PYTHONPATH": f"{BENCH}:{ROOT}",
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        os.environ.update(env)
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        call_command("collectstatic", interactive=False, verbosity=0)
        started = time.perf_counter()
        data = build_data()
        print(f"{NETWORK_EVENTS} network events stored in {time.perf_counter() - started:.0f} s")
        from django.db import connections

        connections.close_all()
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-gunicorn-{port}.log", "wb")
        server = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py",
                                   "--access-logfile", "/dev/null"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for _ in range(200):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.1)
            guest = data["guest"]
            pages = [
                ("bare view (floor)", "/bench/bare/", {}),
                ("upcoming, visitor (cached)", "/upcoming/", {}),
                ("upcoming, visitor (built)", "/upcoming/?when=", {}),  # a parameter: not from the cache
                ("upcoming, member", "/upcoming/", guest),
                ("upcoming, follows only", "/upcoming/?follows=1", guest),
                ("upcoming, this week online", "/upcoming/?when=week&mode=online", guest),
                ("upcoming, text search", "/upcoming/?q=chess", guest),
            ]
            print(f"gunicorn, 2 sync workers, {REQUESTS} requests per page and round, {ROUNDS} rounds "
                  f"(median shown), {os.cpu_count()} cores")
            for _name, path, cookies in pages:
                hammer(base, path, cookies, WARMUP)
            cpu: dict[str, list[float]] = {name: [] for name, _, _ in pages}
            rate: dict[str, list[float]] = {name: [] for name, _, _ in pages}
            for _ in range(ROUNDS):
                for name, path, cookies in pages:
                    before = cpu_seconds(server.pid)
                    wall = hammer(base, path, cookies, REQUESTS)
                    cpu[name].append((cpu_seconds(server.pid) - before) / REQUESTS * 1000)
                    rate[name].append(REQUESTS / wall)
            floor = statistics.median(cpu[pages[0][0]])
            print(f"{'page':28} {'server CPU ms/req':>18} {'x floor':>8} {'req/s':>8}")
            for name, _, _ in pages:
                per_request = statistics.median(cpu[name])
                print(f"{name:28} {per_request:18.2f} {per_request / floor:8.2f} {statistics.median(rate[name]):8.0f}")
            print("(req/s includes PostgreSQL's own time, which the server CPU column does not)")
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            log.close()


if __name__ == "__main__":
    main()
