"""`python -m tests.peer start`: a long-lived peer that stops exactly what it started."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.peer

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie child of ours counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def start_cli(state: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.peer", "start", "--state", str(state)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("how", ["sigterm", "parent-killed"])
def test_cli_runs_a_peer_and_stops_everything_it_started(tmp_path, how):
    state_path = tmp_path / "peer.json"
    cli = start_cli(state_path)
    run_dir = None
    try:
        wait_for(lambda: state_path.exists() or cli.poll() is not None, 120, "the state file")
        assert cli.poll() is None, cli.stdout.read().decode(errors="replace")
        state = json.loads(state_path.read_text())
        assert oct(state_path.stat().st_mode & 0o777) == "0o600"
        launcher = state["pid"]
        described = httpx.get(f"{state['pds_url']}/xrpc/com.atproto.server.describeServer", timeout=30)
        assert described.status_code == 200
        run_dir = Path(state["tls"]["ca_cert_path"]).parent.parent
        assert run_dir.is_dir()

        if how == "sigterm":
            cli.send_signal(signal.SIGTERM)
            assert cli.wait(30) == 0
        else:
            # The launcher notices its parent is gone (its stdin ends) and stops by itself.
            cli.kill()
            cli.wait(10)
        wait_for(lambda: not alive(launcher), 30, "the launcher to exit")
        wait_for(lambda: not state_path.exists(), 10, "the state file to go")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{state['pds_url']}/xrpc/com.atproto.server.describeServer", timeout=5)
        # Its data (and a private PostgreSQL cluster's folder) is gone with it, and no process
        # (the cluster's included) still runs from that folder.
        assert not (run_dir / "launcher").exists()
        assert subprocess.run(["pgrep", "-f", str(run_dir)], capture_output=True).returncode == 1
        if how == "sigterm":
            assert not run_dir.exists()
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait(10)
        if run_dir is not None:
            # A killed CLI cannot remove its own folder (the TLS files and the log).
            shutil.rmtree(run_dir, ignore_errors=True)
