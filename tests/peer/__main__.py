"""CLI: run a long-lived test peer in the foreground.

    .venv/bin/python -m tests.peer start --state /tmp/peer.json
    ELONARA_PEER_STATE=/tmp/peer.json .venv/bin/pytest -m peer ...

Stops (and removes the state file) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from tests.peer.runtime import PeerError, PeerProcess


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.peer")
    sub = parser.add_subparsers(dest="command", required=True)
    start = sub.add_parser("start", help="start the peer and run until interrupted")
    start.add_argument("--state", required=True, type=Path, help="where to write the JSON state file")
    args = parser.parse_args(argv)

    state_path = args.state.resolve()
    process = PeerProcess(state_path=state_path)

    def stop(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        state = process.start()
        print(f"test peer ready (pid {process.proc.pid}): PDS {state.pds_url}, App View {state.appview_url}")
        print(f"state: {state_path}   log: {process.log_path}")
        print(f"use it: ELONARA_PEER_STATE={state_path} .venv/bin/pytest -m peer ...   (Ctrl-C stops it)")
        sys.stdout.flush()
        code = process.wait()
        print(f"test peer exited ({code}); log tail:\n{process.log_tail()}", file=sys.stderr)
        return 1
    except PeerError as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        process.stop()
        state_path.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
