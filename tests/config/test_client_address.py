"""The client's address behind trusted proxies (issue 24): each visitor has their own rate-limit
bucket behind a proxy, a forged X-Forwarded-For from outside changes nothing, and the access log
shows the client (with calendar-feed tokens redacted from paths).

The end-to-end test runs the real thing on loopback: Debian's nginx in front of gunicorn with our
configuration, visitors coming from distinct loopback addresses (127.0.0.2, 127.0.0.3).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from django.core.cache import cache
from django.db import connection

from core.client_address import client_address_from

ROOT = Path(__file__).resolve().parent.parent.parent
TRUSTED = "127.0.0.1,::1,10.0.0.0/8"


@pytest.mark.parametrize(("remote", "forwarded", "client"), [
    ("203.0.113.9", "", "203.0.113.9"),  # no proxy
    ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # not from a trusted proxy: the header is ignored
    ("127.0.0.1", "198.51.100.7", "198.51.100.7"),  # the proxy's hop
    ("127.0.0.1", "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # a forged hop left of it changes nothing
    ("127.0.0.1", "6.6.6.6, 198.51.100.7, 10.1.2.3", "198.51.100.7"),  # two trusted proxies
    ("127.0.0.1", "10.1.2.3, 10.4.5.6", "10.1.2.3"),  # only proxies: the leftmost
    ("127.0.0.1", "", "127.0.0.1"),
    ("127.0.0.1", "not-an-address", "127.0.0.1"),
    ("127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
    ("::ffff:127.0.0.1", "198.51.100.7:5555", "198.51.100.7"),
])
def test_client_address_is_the_rightmost_untrusted_hop(remote, forwarded, client):
    assert client_address_from(remote_addr=remote, forwarded_for=forwarded, trusted=TRUSTED) == client


def test_star_trusts_every_sender():
    assert client_address_from(remote_addr="203.0.113.9", forwarded_for="198.51.100.7", trusted="*") == "198.51.100.7"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


def _database_url() -> str:
    # The test database of this run (pytest-django's), on the server DATABASE_URL names.
    return os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]


@pytest.fixture
def proxied_site(tmp_path):
    """gunicorn (our config) on one loopback port, nginx in front of it on another."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is missing: scripts/system-packages.sh installs nginx-light")
    web_port, proxy_port = _free_port(), _free_port()
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update({
        "SECRET_KEY": secrets.token_urlsafe(50), "ALLOWED_HOSTS": "127.0.0.1",
        "ELONARA_PUBLIC_URL": f"http://127.0.0.1:{proxy_port}", "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{web_port}", "GUNICORN_WORKERS": "2",
        "DATABASE_URL": _database_url(), "REDIS_URL": os.environ["REDIS_URL"],
        "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL", os.environ["REDIS_URL"]),
        "FORWARDED_ALLOW_IPS": "127.0.0.1", "RATE_LIMIT_API_TOKEN": "3/600",
    })
    web_log = tmp_path / "gunicorn.log"
    web = subprocess.Popen([str(ROOT / ".venv/bin/gunicorn"), "-c", "config/gunicorn.conf.py"], cwd=ROOT, env=env,
                           stdout=web_log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
    server {{
        listen 127.0.0.1:{proxy_port};
        location / {{
            proxy_pass http://127.0.0.1:{web_port};
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
        }}
    }}
}}
""")
    proxy_log = tmp_path / "nginx.out"
    proxy = subprocess.Popen([nginx, "-c", str(conf), "-e", str(tmp_path / "nginx-error.log")],
                             stdout=proxy_log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_port(web_port, web, web_log)
        _wait_port(proxy_port, proxy, proxy_log)
        yield f"http://127.0.0.1:{proxy_port}", web_log
    finally:
        for proc in (proxy, web):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)


def _visitor(address: str) -> httpx.Client:
    # Each visitor connects from its own loopback address (the whole of 127/8 is this machine).
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=20)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_behind_a_proxy_each_visitor_has_their_own_limit_and_a_forged_header_does_not_help(proxied_site):
    if connection.vendor != "postgresql" or not os.environ.get("REDIS_URL"):
        pytest.fail("the services tier runs on PostgreSQL and Redis")
    cache.clear()
    base, web_log = proxied_site
    exchange = f"{base}/api/auth/token/"
    junk = {"api_token": "elo_not-a-real-token-at-all"}
    with _visitor("127.0.0.2") as first, _visitor("127.0.0.3") as second:
        answers = [first.post(exchange, json=junk).status_code for _ in range(4)]
        assert answers[:3] != [429] * 3 and answers[3] == 429, answers
        # Someone else behind the same proxy is not blocked by the first visitor's attempts.
        assert second.post(exchange, json=junk).status_code != 429
        # A made-up X-Forwarded-For from outside does not give the first visitor a new bucket.
        forged = first.post(exchange, json=junk, headers={"X-Forwarded-For": "198.51.100.77"})
        assert forged.status_code == 429
        token = secrets.token_urlsafe(24)
        first.get(f"{base}/calendar/feed/{token}.ics")
    time.sleep(0.5)  # the access log line is written after the response
    log = web_log.read_text()
    lines = [line for line in log.splitlines() if "/api/auth/token/" in line]
    assert any(line.startswith("127.0.0.2 ") for line in lines), log[-2000:]
    assert any(line.startswith("127.0.0.3 ") for line in lines), log[-2000:]
    assert not any(line.startswith("127.0.0.1 ") for line in lines)
    assert "198.51.100.77" not in log
    assert token not in log and "/calendar/feed/[redacted]" in log
