"""One of several processes racing to refresh the same identity (see test_connect_concurrency)."""

import json
import os
import sys
import time

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")
django.setup()

from bluesky import clients  # noqa: E402
from bluesky.sessions import identity_refresh  # noqa: E402


def main() -> None:
    identity_id, seen_token_file, start_at = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    seen = open(seen_token_file).read()
    grants = []
    clients.safe_http_client().add_request_hook(
        lambda request: grants.append(1) if b"grant_type=refresh_token" in request.content else None)
    clients.oauth_client()  # warm up everything but the refresh itself before the start line
    time.sleep(max(0.0, start_at - time.time()))
    identity = identity_refresh(identity_id=identity_id, seen_access_token=seen)
    print(json.dumps({"refresh_grants": len(grants), "rotated": identity.access_token != seen}))


if __name__ == "__main__":
    main()
