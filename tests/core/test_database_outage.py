"""Degrade, don't fail (issue 34): PostgreSQL stopped under a running server (gunicorn, production
settings but for static files, its own PostgreSQL and Redis). Pages kept before stay 200; a write
gets a clear "try again in a moment" page (503 with Retry-After), the API the same code as JSON,
/readyz names the database; nothing is half-written; once PostgreSQL is back the same server takes
the write without being restarted."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
SERVICES = ROOT / "scripts" / "test-services.sh"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
PASSWORD = "pw-long-enough-123"

pytestmark = [
    pytest.mark.services,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs the services tier (make test)"),
]

SETUP = f"""
from datetime import timedelta
from django.utils import timezone
from elonara import services
from members.models import Member
host = Member.objects.create_user(username="host", password="{PASSWORD}")
Member.objects.create_user(username="bea", password="{PASSWORD}")
start = timezone.now() + timedelta(days=2)
event = services.event_create(host=host, title="Outage night", starts_at=start, ends_at=start + timedelta(hours=2),
                              venue="Hall")
print("EVENT", event.pk)
"""
COUNT = """
from elonara.models import RSVP
print("RSVPS", list(RSVP.objects.filter(member__username="bea").values_list("status", flat=True)))
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def stack():
    """Private PostgreSQL + Redis (scripts/test-services.sh), migrated, and gunicorn on them."""
    folder = tempfile.mkdtemp(prefix="elonara-outage-", dir="/tmp")
    subprocess.run([str(SERVICES), "start", folder], check=True, capture_output=True, timeout=120)
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    for line in Path(folder, "services.env").read_text().splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = value
    port = _free_port()
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings_test", "ALLOWED_HOSTS": "127.0.0.1",
                "ELONARA_PUBLIC_URL": f"http://127.0.0.1:{port}", "BLUESKY_FIREHOSE_URL": "",
                "HEALTH_CHECK_TIMEOUT": "2", "DATABASE_CONNECT_TIMEOUT": "2"})
    manage = [PYTHON, "manage.py"]
    subprocess.run([*manage, "migrate", "--no-input"], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=300)
    made = subprocess.run([*manage, "shell", "-c", SETUP], cwd=ROOT, env=env, check=True, capture_output=True,
                          text=True, timeout=120).stdout
    event_pk = int(re.search(r"EVENT (\d+)", made).group(1))
    log = Path(folder) / "gunicorn.log"
    server = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "config.wsgi", "--bind", f"127.0.0.1:{port}",
                               "--workers", "1", "--timeout", "60"], cwd=ROOT, env=env,
                              stdout=log.open("w"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            pytest.fail(log.read_text()[-3000:])
        time.sleep(0.2)

    def rsvps() -> list[str]:
        out = subprocess.run([*manage, "shell", "-c", COUNT], cwd=ROOT, env=env, check=True, capture_output=True,
                             text=True, timeout=120).stdout
        return eval(re.search(r"RSVPS (\[.*\])", out).group(1))  # a list literal we printed

    try:
        yield {"base": base, "event": event_pk, "folder": folder, "rsvps": rsvps, "log": log}
    finally:
        server.terminate()
        server.wait(timeout=30)
        subprocess.run([str(SERVICES), "stop", folder], timeout=120)
        shutil.rmtree(folder, ignore_errors=True)


class _Browser:
    """httpx with cookies carried by hand: the server marks them Secure (production settings),
    which an http cookie jar would never send back."""

    def __init__(self, base: str) -> None:
        self.client = httpx.Client(base_url=base, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        headers = {**kwargs.pop("headers", {}), "Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        response = self.client.request(method, url, headers=headers, **kwargs)
        for header in response.headers.get_list("set-cookie"):
            name, value = header.split(";", 1)[0].split("=", 1)
            self.cookies[name.strip()] = value.strip()
        return response

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)


def _csrf(client: _Browser) -> str:
    return client.cookies["csrftoken"]


def test_postgresql_stopped_reads_from_kept_pages_writes_try_again(stack):
    base, pk = stack["base"], stack["event"]
    bea = _Browser(base)
    bea.get("/members/login/")
    signed_in = bea.post("/members/login/", data={"username": "bea", "password": PASSWORD,
                                                  "csrfmiddlewaretoken": _csrf(bea)})
    assert signed_in.status_code == 302, signed_in.text[-2000:]
    page = f"/events/{pk}/"
    for _ in range(2):  # the second view is the kept copy
        assert bea.get(page).status_code == 200
        assert bea.get("/api/v1/events/").status_code == 200

    subprocess.run([str(SERVICES), "pg-stop", stack["folder"]], check=True, timeout=60)
    try:
        kept = bea.get(page)
        assert kept.status_code == 200 and "Outage night" in kept.text
        assert bea.get("/api/v1/events/").status_code == 200
        write = bea.post(f"/events/{pk}/rsvp/", data={"status": "going", "csrfmiddlewaretoken": _csrf(bea)})
        assert write.status_code == 503, (write.status_code, stack["log"].read_text()[-2000:])
        assert int(write.headers["Retry-After"]) > 0
        assert "Try again in a moment" in write.text and "Nothing was changed" in write.text
        assert "Traceback" not in write.text
        api = bea.post(f"/api/v1/events/{pk}/rsvp/", json={"status": "going"},
                       headers={"X-CSRFToken": _csrf(bea)})
        assert api.status_code == 503 and api.json()["error"] == "unavailable"
        assert int(api.headers["Retry-After"]) > 0
        ready = httpx.get(f"{base}/readyz?format=json", timeout=30)
        assert ready.status_code >= 500
        assert ready.json()["Database(alias='default')"] != "OK"
        assert ready.json()["Cache(alias='default')"] == "OK"
        visitor = httpx.get(f"{base}{page}", timeout=30)
        assert visitor.status_code in (200, 503) and "Traceback" not in visitor.text
    finally:
        subprocess.run([str(SERVICES), "pg-start", stack["folder"]], check=True, timeout=60)

    assert stack["rsvps"]() == []  # nothing half-written
    # The same server, not restarted, takes the write now.
    again = bea.post(f"/events/{pk}/rsvp/", data={"status": "going", "csrfmiddlewaretoken": _csrf(bea)})
    assert again.status_code == 302, again.text[-2000:]
    assert stack["rsvps"]() == ["going"]
    assert "Going" in bea.get(page).text
