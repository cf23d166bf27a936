"""Real misbehaving servers on 127.0.0.1 for the resource-limit tests, and helpers to count what a
malicious server managed to push at us.

`ScriptedServer(script)` accepts TCP connections (TLS when given a server context), reads the
request head and body, then hands the socket to `script(conn)`, which writes whatever it likes,
as slowly as it likes. Every script stops as soon as the client hangs up or the server stops.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator

import httpx


class ScriptedServer:
    def __init__(self, script: Callable[[socket.socket, ScriptedServer], None], *,
                 tls: ssl.SSLContext | None = None) -> None:
        self.script = script
        self.tls = tls
        self.stopping = threading.Event()
        self.accepted = 0
        self.completed = 0  # connections whose whole scripted answer went out
        self.sent = 0
        self._serving = 0
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(32)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"scripted-{self.port}", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with self._lock:
                self.accepted += 1
                self._serving += 1
                self._conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            conn.settimeout(10)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.append(conn)
            _read_request(conn)
            self.script(conn, self)
            with self._lock:
                self.completed += 1
        except (OSError, ssl.SSLError, _Stopped):
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass
            with self._lock:
                self._serving -= 1

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait until every connection's script has ended (the client hung up or it finished)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self._lock:
                if self._serving == 0:
                    return
            time.sleep(0.02)

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        with self._lock:
            self.sent += len(data)

    def drip(self, conn: socket.socket, data: bytes, *, delay: float, chunk: int = 1) -> None:
        for i in range(0, len(data), chunk):
            if self.stopping.wait(delay):
                raise _Stopped()
            self.send(conn, data[i:i + chunk])

    def stop(self) -> None:
        self.stopping.set()
        self._sock.close()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.close()
                except OSError:
                    pass
        self._thread.join(timeout=2)


class _Stopped(Exception):
    pass


def _read_request(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        piece = conn.recv(65536)
        if not piece:
            return data
        data += piece
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        piece = conn.recv(65536)
        if not piece:
            break
        body += piece
    return head


def http_response(status: int, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    if not any(k.lower() in ("content-length", "transfer-encoding") for k in headers or {}):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class CountingStream(httpx.SyncByteStream):
    """A response body a malicious server streams: counts the bytes it was asked for."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self.produced = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.produced += len(chunk)
            yield chunk


def repeated(chunk: bytes, total: int) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield chunk
        sent += len(chunk)


def gzip_bomb(decoded_size: int) -> bytes:
    return gzip.compress(b"\0" * decoded_size, compresslevel=9)


def deflate_bomb(decoded_size: int) -> bytes:
    return zlib.compress(b"\0" * decoded_size, 9)


def in_chunks(data: bytes, size: int = 16384) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i:i + size]


class DripRelay:
    """A TCP relay on 127.0.0.1 to another local server that passes the client's bytes on at once
    and the server's bytes back one at a time: a real TLS server whose handshake is dripped."""

    def __init__(self, to_port: int, *, delay: float) -> None:
        self.to_port, self.delay = to_port, delay
        self.stopping = threading.Event()
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(8)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._accept_loop, daemon=True).start()

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self.to_port))
            threading.Thread(target=self._pipe, args=(client, upstream, 0.0), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, self.delay), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, delay: float) -> None:
        try:
            while not self.stopping.is_set():
                data = source.recv(65536)
                if not data:
                    break
                if not delay:
                    sink.sendall(data)
                    continue
                for i in range(len(data)):
                    if self.stopping.wait(delay):
                        return
                    sink.sendall(data[i:i + 1])
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.close()
                except OSError:
                    pass

    def stop(self) -> None:
        self.stopping.set()
        self._sock.close()
