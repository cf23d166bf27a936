"""The firehose consumer says why a connection ended (issue 34): refused, DNS, timeout, closed by
the peer (with its close code and reason), a broken frame, a refused handshake. Real sockets on
loopback where a real peer can do it; the DNS and broken-frame cases from the exceptions the
libraries raise (no name is looked up)."""

from __future__ import annotations

import http.server
import logging
import socket
import threading

import pytest
from websockets.exceptions import ConnectionClosedError
from websockets.frames import Close, CloseCode
from websockets.sync.server import serve

from network.firehose import FirehoseConsumer, connection_end_reason

pytestmark = pytest.mark.django_db


class _StopOnConnectionLost(logging.Handler):
    def __init__(self, stop: threading.Event) -> None:
        super().__init__()
        self.stop, self.records = stop, []

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("firehose connection lost"):
            self.records.append(record)
            self.stop.set()


def _first_loss(source: str) -> logging.LogRecord:
    stop = threading.Event()
    handler = _StopOnConnectionLost(stop)
    log = logging.getLogger("network.firehose")
    log.addHandler(handler)
    try:
        FirehoseConsumer(source=source, stop=stop).run()
    finally:
        log.removeHandler(handler)
    assert handler.records, "the consumer did not report the connection's end"
    return handler.records[0]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_nothing_listening_is_refused():
    record = _first_loss(f"ws://127.0.0.1:{_free_port()}")
    assert record.reason == "refused"
    assert record.getMessage() == "firehose connection lost: refused"


def test_a_peer_closing_says_its_code_and_reason():
    def handler(ws):
        ws.close(code=CloseCode.TRY_AGAIN_LATER, reason="relay overloaded")

    with serve(handler, "127.0.0.1", 0) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.socket.getsockname()[1]
        record = _first_loss(f"ws://127.0.0.1:{port}")
        server.shutdown()
    assert record.reason == "closed by peer"
    assert record.detail == "close code 1013: relay overloaded"


def test_a_refused_handshake_says_the_http_status():
    class Unavailable(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Unavailable)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        record = _first_loss(f"ws://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
    assert (record.reason, record.detail) == ("handshake refused", "HTTP 503")


def test_dns_and_broken_frames_are_named():
    assert connection_end_reason(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))[0] == "dns"
    broken = ConnectionClosedError(Close(CloseCode.PROTOCOL_ERROR, "bad opcode"), None)
    assert connection_end_reason(broken) == ("bad frame", "close code 1002: bad opcode")
    assert connection_end_reason(TimeoutError())[0] == "timeout"
