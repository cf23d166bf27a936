"""`make serve` from a clean clone, as an operator runs it: production settings, PostgreSQL, Redis.

It starts (migrations, collectstatic, gunicorn, Celery worker and beat), /readyz turns ready, a
browser signs up, creates an event with a cover and RSVPs, the cover is served, the worker's task
updates the count shown on the home page, the metrics endpoint answers, and Ctrl-C (SIGINT to the
process group) stops every process.
Started again as `scripts/serve.sh`, /readyz reports the broker down once Redis is stopped, and
SIGTERM to the script alone stops every process.
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
from cryptography.fernet import Fernet
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent.parent

pytestmark = [
    pytest.mark.services,
    pytest.mark.browser,
    pytest.mark.skipif(not os.environ.get("ELONARA_TEST_PG_ADMIN_URL"),
                       reason="needs the private PostgreSQL of scripts/test-services.sh"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def clone(tmp_path):
    """A clean clone of the committed tree, sharing this checkout's virtualenv (no reinstall)."""
    target = tmp_path / "elonara"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


@pytest.fixture
def redis_server(tmp_path):
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--bind", "127.0.0.1", "--port", str(port), "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield proc, port
    if proc.poll() is None:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def database():
    import psycopg

    name = f"elonara_serve_{secrets.token_hex(4)}"
    admin = os.environ["ELONARA_TEST_PG_ADMIN_URL"]
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    yield admin.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def serve_env(*, port: int, redis_port: int, database_url: str) -> dict[str, str]:
    env = {k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ}
    env.update({
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "FIELD_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "EMAIL_URL": "smtp://127.0.0.1:9",
        "ELONARA_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "SECURE_SSL_REDIRECT": "false",
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "DATABASE_URL": database_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CELERY_BROKER_URL": f"redis://127.0.0.1:{redis_port}/1",
        "METRICS_TOKEN": "serve-test-token",
        "HEALTH_CHECK_TIMEOUT": "2",
        # The firehose consumer reads a relay of ours on loopback: none is running, so it backs off
        # and retries (tests never reach the real network).
        "BLUESKY_FIREHOSE_URL": f"ws://127.0.0.1:{free_port()}",
    })
    return env


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_ready(base: str, proc: subprocess.Popen, log: Path, timeout: float = 240) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"serve exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            last = httpx.get(f"{base}/readyz?format=json", timeout=5)
            if last.status_code == 200:
                return last.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    pytest.fail(f"/readyz never turned ready ({last and last.text}):\n{log.read_text()[-4000:]}")


def wait_group_gone(proc: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    pgid = proc.pid
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and (proc.poll() is None or group_alive(pgid)):
        time.sleep(0.2)
    if group_alive(pgid):
        left = subprocess.run(["ps", "-o", "pid,cmd", "-g", str(pgid)], capture_output=True, text=True).stdout
        os.killpg(pgid, signal.SIGKILL)
        pytest.fail(f"processes left running:\n{left}\n{log.read_text()[-3000:]}")


def _as_in_a_terminal() -> None:
    # A suite started in the background of a non-interactive shell inherits SIGINT ignored, and a
    # shell cannot trap a signal ignored on entry: Ctrl-C in a terminal always arrives with the
    # default disposition, so the set starts with it here too.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cmd: list[str], *, cwd: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=_as_in_a_terminal)


def test_make_serve_runs_the_app_and_ctrl_c_stops_everything(clone, redis_server, database, page, tmp_path):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = serve_env(port=port, redis_port=redis_server[1], database_url=database)
    log = tmp_path / "serve.log"
    proc = start(["make", "serve"], cwd=clone, env=env, log=log)
    try:
        checks = wait_ready(base, proc, log)
        assert set(checks.values()) == {"OK"} and "Broker()" in checks and "Migrations(alias='default')" in checks
        assert httpx.get(f"{base}/healthz").text == "ok\n"

        # A member signs up and publishes an event, another signs up and RSVPs, in a real browser.
        def sign_up(username: str) -> None:
            page.goto(f"{base}/")
            page.get_by_role("link", name="Sign up").first.click()
            page.get_by_label("Username").fill(username)
            page.get_by_label("Email").fill(f"{username}@example.org")
            page.get_by_label("Display name").fill(username.title())
            page.locator("#id_password1").fill("correct-horse-battery-9")
            page.locator("#id_password2").fill("correct-horse-battery-9")
            page.get_by_role("button", name="Sign up").click()
            page.wait_for_url(f"{base}/")

        sign_up("maya")
        page.get_by_role("link", name="New event").first.click()
        page.get_by_label("Title").fill("Lakeside ride")
        page.get_by_label("Starts").fill("2031-06-01T09:30")
        page.get_by_label("Ends").fill("2031-06-01T12:00")
        page.get_by_label("Place").fill("Boathouse")
        cover = tmp_path / "cover.png"
        Image.new("RGB", (800, 420), (30, 120, 200)).save(cover)
        page.get_by_label("Cover image").set_input_files(str(cover))
        page.get_by_role("button", name="Publish event").click()
        page.wait_for_url("**/events/*/")
        # Issue 24: the cover was 404 under `make serve` (local files, nothing serving them).
        src = page.locator("#cover-image").get_attribute("src")
        assert src.startswith("/media/covers/event/")
        served = httpx.get(f"{base}{src}")
        assert served.status_code == 200 and served.content.startswith(b"\xff\xd8\xff")
        assert served.headers["x-content-type-options"] == "nosniff"
        assert page.evaluate("document.getElementById('cover-image').naturalWidth") == 800
        # Maya hosts it: she is going already, and her panel holds her tools, not the question.
        assert page.locator("#host-title").inner_text() == "You're hosting"
        event_url = page.url
        page.get_by_role("button", name="Log out").click()
        sign_up("sam")
        page.goto(event_url)
        page.get_by_role("button", name="Going", exact=True).click()
        page.wait_for_selector("#my-rsvp")

        # The RSVP queued a Celery task (event_refresh_counts) in Redis; the worker ran it.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            page.goto(f"{base}/")
            if "2 going" in page.locator("#upcoming-events").inner_text():  # Maya (hosting) and Sam
                break
            time.sleep(1)
        else:
            pytest.fail("the worker never updated the count:\n" + log.read_text()[-3000:])
        # The worker answers pings; static files are served (collectstatic + whitenoise).
        worker = httpx.get(f"{base}/readyz/worker?format=json", timeout=15,
                           headers={"Authorization": "Bearer serve-test-token"})
        assert worker.status_code == 200, worker.text
        assert httpx.get(f"{base}/static/css/elonara.css").status_code == 200
        metrics = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer serve-test-token"})
        assert metrics.status_code == 200 and "django_http_requests_total_by_view" in metrics.text
    finally:
        # Ctrl-C in a terminal: SIGINT to the whole foreground process group.
        if group_alive(proc.pid):
            os.killpg(proc.pid, signal.SIGINT)
        wait_group_gone(proc, log)
    text = log.read_text()
    assert "Booting worker" in text and "beat: Starting" in text and " ready." in text


def test_readyz_sees_the_broker_down_and_sigterm_to_the_parent_stops_everything(clone, redis_server, database,
                                                                                tmp_path):
    redis_proc, redis_port = redis_server
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = start(["scripts/serve.sh"], cwd=clone, env=serve_env(port=port, redis_port=redis_port,
                                                               database_url=database), log=log)
    try:
        wait_ready(base, proc, log)
        redis_proc.terminate()
        redis_proc.wait(timeout=10)
        response = httpx.get(f"{base}/readyz?format=json", timeout=30)
        assert response.status_code == 500
        checks = response.json()
        assert checks["Broker()"] != "OK" and checks["Database(alias='default')"] == "OK"
        assert httpx.get(f"{base}/healthz").status_code == 200  # alive, just not ready
    finally:
        # SIGTERM to the parent only (what systemd or a supervisor sends).
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        wait_group_gone(proc, log)
    assert proc.returncode == 143


def _pids_of(pgid: int, needle: str) -> set[int]:
    out = subprocess.run(["pgrep", "-g", str(pgid), "-f", needle], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def test_a_crashed_process_is_restarted_alone_and_the_others_keep_serving(clone, redis_server, database, tmp_path):
    # Issue 24: one helper process dying stopped every process of `make serve`.
    _redis_proc, redis_port = redis_server
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    proc = start(["scripts/serve.sh"], cwd=clone, env=serve_env(port=port, redis_port=redis_port,
                                                               database_url=database), log=log)
    try:
        wait_ready(base, proc, log)
        deadline = time.monotonic() + 60
        while not (first := _pids_of(proc.pid, "manage.py consume_firehose")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert first, log.read_text()[-3000:]
        for pid in first:
            os.kill(pid, signal.SIGKILL)  # the consumer crashes
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            again = _pids_of(proc.pid, "manage.py consume_firehose")
            if again and not again & first:
                break
            time.sleep(0.5)
        else:
            pytest.fail("the consumer was not restarted:\n" + log.read_text()[-3000:])
        assert proc.poll() is None
        assert httpx.get(f"{base}/readyz", timeout=30).status_code == 200  # the others kept serving
        assert "Elonara: firehose exited (status 137); restarting it in 1 s" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        wait_group_gone(proc, log)


def test_serve_refuses_to_start_naming_the_missing_variables(clone, tmp_path):
    env = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    result = subprocess.run(["scripts/serve.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "SECRET_KEY, ALLOWED_HOSTS" in result.stderr
    assert shutil.which("gunicorn", path=str(clone / ".venv" / "bin"))
