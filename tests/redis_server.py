"""A private redis-server on loopback for one test (so freezing or filling it stops nobody else's)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis


def private_redis(folder: Path, *args: str) -> tuple[subprocess.Popen, str]:
    """Start redis-server with `args` in `folder`; (process, redis://127.0.0.1:<port>) once it answers.
    The caller terminates the process."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(folder), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"redis://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            redis.Redis.from_url(url).ping()
            return proc, url
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline:
                proc.terminate()
                raise
            time.sleep(0.05)
