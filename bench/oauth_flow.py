"""Benchmark: the AT Protocol OAuth client against the local official PDS. Prints figures only.

    ELONARA_PEER_STATE=<state file> .venv/bin/python bench/oauth_flow.py   (or via `make bench`)

Figures: outbound requests from start to authorization URL (cold, warm), for the callback with
its issuer verification, for a forced refresh (right after sign-in, and two minutes later when
its issuer re-check needs a fresh DID document); our CPU time per full flow (process CPU time around
our calls only, so network waits and the consent helper are excluded); DPoP proofs per second.
Handles resolve through the PDS's resolveHandle here (the local network has no DNS): in
production that request is a DNS TXT query instead.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bluesky.atproto import (
    ClientConfig,
    DpopKey,
    DpopNonceStore,
    IdentityResolver,
    MetadataResolver,
    OAuthClient,
    PdsClient,
    SafeHttpClient,
    loopback_client_id,
)
from tests.peer import consent
from tests.peer.runtime import PeerProcess, PeerState

SCOPE = "atproto transition:generic"
FLOWS = 10


class ShiftableClock:
    """time.monotonic, plus time skipped on request (the caches' view of "two minutes later")."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.skipped


def make_client(peer: PeerState, clock: ShiftableClock | None = None) -> OAuthClient:
    clock = clock or ShiftableClock()
    http = SafeHttpClient(allow_insecure=True)
    resolver = IdentityResolver(http=http, plc_url=peer.plc_url, handle_resolver_url=peer.pds_url, clock=clock)
    redirect = "http://127.0.0.1:8000/bluesky/callback/"
    config = ClientConfig(client_id=loopback_client_id(redirect_uri=redirect, scope=SCOPE), redirect_uri=redirect,
                          scope=SCOPE)
    return OAuthClient(config, http=http, resolver=resolver, metadata=MetadataResolver(http=http, clock=clock))


def refresh_later(client: OAuthClient, clock: ShiftableClock, account) -> int:
    """Requests of a refresh two minutes after sign-in: the DID document is re-read, the rest cached."""
    pending = client.start_authorization(account.handle)
    params = consent.consent(pending.authorization_url, account, None)
    tokens = client.complete_authorization(pending, code=params["code"], iss=params["iss"])
    clock.skipped += 120
    refreshed, requests, _ = counted(client, lambda: client.refresh(tokens, dpop_key=pending.dpop_key))
    client.revoke(refreshed, dpop_key=pending.dpop_key)
    return requests


def counted(client: OAuthClient, fn):
    before_requests, before_cpu = client.http.request_count, time.process_time()
    result = fn()
    return result, client.http.request_count - before_requests, time.process_time() - before_cpu


def one_flow(client: OAuthClient, account, pds_nonces: DpopNonceStore) -> dict:
    pending, start_requests, cpu_start = counted(client, lambda: client.start_authorization(account.handle))
    params = consent.consent(pending.authorization_url, account, None)
    tokens, callback_requests, cpu_callback = counted(
        client, lambda: client.complete_authorization(pending, code=params["code"], iss=params["iss"]))
    pds = PdsClient(http=client.http, pds_url=tokens.pds_url, access_token=tokens.access_token,
                    dpop_key=pending.dpop_key, nonce_store=pds_nonces)
    record = {"$type": "app.bsky.feed.post", "text": "benchmark post", "createdAt": "2026-11-23T00:00:00Z"}
    _, post_requests, cpu_post = counted(client, lambda: pds.post(
        "com.atproto.repo.createRecord", json={"repo": tokens.sub, "collection": "app.bsky.feed.post",
                                               "record": record}))
    refreshed, refresh_requests, cpu_refresh = counted(
        client, lambda: client.refresh(tokens, dpop_key=pending.dpop_key))
    _, revoke_requests, cpu_revoke = counted(client, lambda: client.revoke(refreshed, dpop_key=pending.dpop_key))
    return {
        "start": start_requests, "callback": callback_requests, "post": post_requests, "refresh": refresh_requests,
        "revoke": revoke_requests,
        "cpu_ms": 1000 * (cpu_start + cpu_callback + cpu_post + cpu_refresh + cpu_revoke),
    }


def main() -> None:
    state_file = os.environ.get("ELONARA_PEER_STATE")
    process = None
    if state_file:
        peer = PeerState.load(state_file)
    else:
        process = PeerProcess()
        peer = process.start()
    try:
        account = peer.accounts["alice"]
        clock = ShiftableClock()
        client = make_client(peer, clock)
        # The PDS's nonce is kept across calls (the app stores it per identity).
        pds_nonces = DpopNonceStore()
        cold = one_flow(client, account, pds_nonces)
        warm = [one_flow(client, account, pds_nonces) for _ in range(FLOWS)]
        total_cold = sum(v for k, v in cold.items() if k != "cpu_ms")
        total_warm = sum(v for k, v in warm[-1].items() if k != "cpu_ms")
        print(f"requests, cold process: start {cold['start']}, callback {cold['callback']}, createRecord "
              f"{cold['post']}, refresh {cold['refresh']}, revoke {cold['revoke']} (full flow {total_cold})")
        print(f"requests, warm:         start {warm[-1]['start']}, callback {warm[-1]['callback']}, createRecord "
              f"{warm[-1]['post']}, refresh {warm[-1]['refresh']}, revoke {warm[-1]['revoke']} (full flow "
              f"{total_warm})")
        print(f"requests, refresh two minutes after sign-in (issuer re-check): "
              f"{refresh_later(client, clock, account)}")
        cpu = sorted(f["cpu_ms"] for f in warm)
        print(f"our CPU per full flow (warm, {FLOWS} flows): median {cpu[len(cpu) // 2]:.2f} ms, "
              f"max {cpu[-1]:.2f} ms; cold {cold['cpu_ms']:.2f} ms")
    finally:
        if process is not None:
            process.stop()

    key = DpopKey.generate()
    n = 5000
    started = time.perf_counter()
    for _ in range(n):
        key.proof("POST", "https://pds.example.com/xrpc/com.atproto.repo.createRecord", nonce="nonce-value",
                  access_token="access-token-value")
    elapsed = time.perf_counter() - started
    print(f"DPoP proofs: {n / elapsed:,.0f}/s ({1e6 * elapsed / n:.1f} µs each, with nonce and ath)")


if __name__ == "__main__":
    main()
