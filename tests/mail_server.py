"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives, for tests and benchmarks.

It speaks SMTP as a mail provider does: it can refuse a recipient permanently (550 at RCPT), and
it can stall before answering RCPT so a test can kill the sender in the middle of a transaction
(nothing is delivered unless the whole transaction completes).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> EmailMessage | None:
        for part in self.message.walk():
            if part.get_content_type() == content_type:
                return part
        return None

    def text(self) -> str:
        return self.part("text/plain").get_content()

    def html(self) -> str:
        return self.part("text/html").get_content()

    def ics(self) -> bytes:
        part = self.part("text/calendar")
        return part.get_payload(decode=True) if part is not None else b""


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)
    refuse: set[str] = field(default_factory=set)
    # address -> seconds: the next RCPT for it waits this long before answering (once).
    stall_once: dict[str, float] = field(default_factory=dict)
    stalled_peers: list[tuple[str, int]] = field(default_factory=list)
    count_only: bool = False
    # Seconds the server takes before accepting each message (a slow mail provider).
    data_delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(default_factory=threading.Condition)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return "550 5.1.1 Mailbox does not exist"
        delay = self.stall_once.pop(address.lower(), None)
        if delay:
            with self.changed:
                self.stalled_peers.append(session.peer)
                self.changed.notify_all()
            await asyncio.sleep(delay)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        message = None if self.count_only else email.message_from_bytes(envelope.content,
                                                                         policy=email.policy.default)
        with self.changed:
            self.received.append(Received(mail_from=envelope.mail_from, rcpt_tos=list(envelope.rcpt_tos),
                                          message=message))
            self.changed.notify_all()
        return "250 Message accepted"


class MailServer:
    def __init__(self, *, count_only: bool = False) -> None:
        self.handler = _Handler(count_only=count_only)
        with socket.socket() as probe:  # a free port on loopback
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> MailServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    @property
    def received(self) -> list[Received]:
        return list(self.handler.received)

    def to(self, address: str) -> list[Received]:
        return [r for r in self.handler.received if address.lower() in (a.lower() for a in r.rcpt_tos)]

    def refuse(self, address: str) -> None:
        self.handler.refuse.add(address.lower())

    def stall_once(self, address: str, seconds: float) -> None:
        self.handler.stall_once[address.lower()] = seconds

    def wait_for(self, predicate, timeout: float = 30.0) -> bool:
        with self.handler.changed:
            return self.handler.changed.wait_for(predicate, timeout=timeout)
