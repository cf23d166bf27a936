"""getFeedSkeleton (the feed generator, feeds/) at 10,000 upcoming events with announcement posts
and a requester who follows 5,000 accounts: time per request through the whole view (service-auth
JWT checked against a DID document the resolver has cached, the skeleton query, JSON), in-process
with production settings on PostgreSQL and Redis, and the queries each request makes.

Two requesters: a member whose follows were copied (the skeleton filters by a subquery), and an
account that is not a member (its follows, read once from the App View, come from the cache as a
list of DIDs). Figures are printed; nothing is asserted. Needs DATABASE_URL (PostgreSQL) and
REDIS_URL: `make bench` provides them.
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from bench.invitations_common import _require, fresh_database  # noqa: E402

EVENTS = int(os.environ.get("BENCH_FEED_EVENTS", "10000"))
FOLLOWS = int(os.environ.get("BENCH_FEED_FOLLOWS", "5000"))
HOSTS = 2000
FOLLOWED_HOSTS = 500  # of the follows, this many host events here
REQUESTS = int(os.environ.get("BENCH_REQUESTS", "200"))
US = "did:plc:elonarafeedsbench0000000"


def build_data(directory) -> dict[str, object]:
    from django.core.cache import cache
    from django.utils import timezone

    from bluesky.models import BlueskyIdentity
    from elonara.models import Event, EventConversation
    from members.models import Member
    from network.models import FollowedAccount, FollowSync
    from tests.invitations.conftest import random_did
    from tests.network.frames import SigningKey, did_document

    rng = random.Random(37)
    now = timezone.now()
    hosts = Member.objects.bulk_create([Member(username=f"host{i}", display_name=f"Host {i}") for i in range(HOSTS)])
    host_dids = [random_did() for _ in hosts]
    BlueskyIdentity.objects.bulk_create([
        BlueskyIdentity(member=m, did=d, handle=f"host{i}.test", pds_url="https://pds.invalid",
                        issuer="https://pds.invalid", scope="atproto", access_token="unused", dpop_private_jwk="{}",
                        connected_at=now) for i, (m, d) in enumerate(zip(hosts, host_dids, strict=True))])
    events = []
    for i in range(EVENTS):
        start = now + timedelta(hours=rng.randint(1, 24 * 120))
        events.append(Event(title=f"Event {i}", host=hosts[rng.randrange(HOSTS)], starts_at=start,
                            ends_at=start + timedelta(hours=2), time_zone="UTC"))
    events = Event.objects.bulk_create(events, batch_size=2000)
    did_of = {m.pk: d for m, d in zip(hosts, host_dids, strict=True)}
    EventConversation.objects.bulk_create([
        EventConversation(event=e, post_uri=f"at://{did_of[e.host_id]}/app.bsky.feed.post/3k{e.pk:011d}")
        for e in events], batch_size=2000)
    follows = rng.sample(host_dids, FOLLOWED_HOSTS) + [random_did() for _ in range(FOLLOWS - FOLLOWED_HOSTS)]

    member_did, member_key = random_did(), SigningKey()
    member = Member.objects.create_user(username="bob", password=secrets.token_urlsafe(12))
    BlueskyIdentity.objects.create(member=member, did=member_did, handle="bob.test", pds_url="https://pds.invalid",
                                   issuer="https://pds.invalid", scope="atproto", access_token="unused",
                                   dpop_private_jwk="{}", connected_at=now)
    FollowedAccount.objects.bulk_create([FollowedAccount(member=member, did=d) for d in follows], batch_size=2000)
    FollowSync.objects.create(member=member, synced_at=now, count=len(follows))
    outsider_did, outsider_key = random_did(), SigningKey()
    cache.set(f"feeds:follows:{outsider_did}", ",".join(sorted(follows)), 3600)  # as services keeps them
    directory.documents[member_did] = did_document(member_did, member_key)
    directory.documents[outsider_did] = did_document(outsider_did, outsider_key)
    return {"member": (member_did, member_key), "outsider": (outsider_did, outsider_key)}


def measure(name: str, feed: str, did: str, key, **params: str) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.feeds.jwt_helpers import service_jwt

    client = Client()
    token = service_jwt(key, iss=did, aud=US, exp=time.time() + 3000)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    for _ in range(10):  # warm: the DID document cached, plans prepared
        client.get("/xrpc/app.bsky.feed.getFeedSkeleton", {"feed": feed, **params}, **headers)
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get("/xrpc/app.bsky.feed.getFeedSkeleton", {"feed": feed, **params}, **headers)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as queries:
        body = client.get("/xrpc/app.bsky.feed.getFeedSkeleton", {"feed": feed, **params}, **headers).json()
    times.sort()
    print(f"{name:34} {statistics.median(times):8.2f} {times[int(len(times) * 0.95)]:8.2f} "
          f"{len(queries.captured_queries):8} {len(body['feed']):6} {response.status_code:5}")


def explain(member_did: str, outsider_did: str) -> None:
    """The plans of the two skeleton queries (BENCH_EXPLAIN=1), to see where the time goes."""
    from django.core.cache import cache
    from django.utils import timezone

    from feeds import selectors, services

    for did in (member_did, outsider_did):
        follows = services.requester_follows(did=did)
        events = selectors._listed(timezone.now()).filter(selectors.hosted_by_q(follows))
        rows = events.order_by("starts_at", "pk").values_list("starts_at", "pk", "conversation__post_uri")[:31]
        print(rows.explain(analyze=True))
        started = time.perf_counter()
        cache.get(f"feeds:follows:{did}")
        print(f"cache read {1000 * (time.perf_counter() - started):.1f} ms")


def main() -> None:
    from cryptography.fernet import Fernet

    db_url = _require("DATABASE_URL")
    redis_url = _require("REDIS_URL")
    with fresh_database(db_url) as database:
        env = {
            "DEBUG": "false", "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "testserver",
            "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(), "SECURE_SSL_REDIRECT": "false",
            "ELONARA_PUBLIC_URL": "http://127.0.0.1:9", "DATABASE_URL": database, "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "config.settings", "FEEDS_SERVICE_DID": US,
            "ATPROTO_ALLOW_INSECURE_HOSTS": "true",
        }
        os.environ.update(env)
        import django
        from django.conf import settings
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0)
        from bluesky import clients
        from tests.network.frames import Directory

        directory = Directory()
        settings.ATPROTO_PLC_URL = directory.url
        clients.reset()
        try:
            started = time.perf_counter()
            data = build_data(directory)
            print(f"{EVENTS} upcoming events with posts, {FOLLOWS} follows stored in "
                  f"{time.perf_counter() - started:.0f} s")
            from django.db import connection

            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            feed = "at://did:plc:publisherbench00000000000/app.bsky.feed.generator/upcoming-follows"
            print(f"in-process, {REQUESTS} requests each, {os.cpu_count()} cores")
            print(f"{'getFeedSkeleton':34} {'ms p50':>8} {'ms p95':>8} {'queries':>8} {'items':>6} {'code':>5}")
            member_did, member_key = data["member"]
            outsider_did, outsider_key = data["outsider"]
            measure("member (copied follows), page 1", feed, member_did, member_key)
            measure("member, 100 items", feed, member_did, member_key, limit="100")
            measure("not a member (cached follows)", feed, outsider_did, outsider_key)
            if os.environ.get("BENCH_EXPLAIN"):
                explain(member_did, outsider_did)
        finally:
            directory.close()


if __name__ == "__main__":
    main()
