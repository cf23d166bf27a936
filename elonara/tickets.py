"""Tickets: the code a going guest shows at the door, and its QR image.

A ticket code names the event and the answer it belongs to and carries an HMAC of both under a
key derived from SECRET_KEY (`salted_hmac`, its own salt). It holds nothing secret about the
guest, and the door checks it by computing the HMAC again: a code cannot be made up or moved to
another answer or event without the server's key, whatever the phone that scanned it says.
Pure: no database; `elonara.checkin` decides what a valid code lets in.
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass

import segno
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "elonara.tickets.v1"
# 96 bits of HMAC: far beyond guessing at a door, short enough for a small, quick QR code.
_MAC_BYTES = 12
_CODE = re.compile(r"^ELT1-(?P<event>[1-9][0-9]{0,17})-(?P<rsvp>[1-9][0-9]{0,17})-(?P<mac>[A-Z2-7]{20})$")


@dataclass(frozen=True)
class TicketRef:
    event_id: int
    rsvp_id: int


def _mac(event_id: int, rsvp_id: int) -> str:
    digest = salted_hmac(_SALT, f"{event_id}.{rsvp_id}", algorithm="sha256").digest()[:_MAC_BYTES]
    # Base32 upper case: the QR code's alphanumeric mode, and no letters people confuse.
    return base64.b32encode(digest).decode("ascii").rstrip("=")


def ticket_code(*, event_id: int, rsvp_id: int) -> str:
    return f"ELT1-{event_id}-{rsvp_id}-{_mac(event_id, rsvp_id)}"


def ticket_parse(*, code: str) -> TicketRef | None:
    """The answer a code was made for; None for anything our key did not sign."""
    match = _CODE.match(code.strip().upper())
    if match is None:
        return None
    event_id, rsvp_id = int(match["event"]), int(match["rsvp"])
    if not constant_time_compare(match["mac"], _mac(event_id, rsvp_id)):
        return None
    return TicketRef(event_id=event_id, rsvp_id=rsvp_id)


def ticket_qr_svg(*, code: str, title: str = "Your ticket") -> str:
    """The code as an inline SVG QR image (segno): dark on white whatever the page's theme, with
    the quiet zone scanners need, a title for screen readers and a fixed size."""
    qr = segno.make(code, error="m", micro=False)
    svg = qr.svg_inline(scale=5, border=4, dark="#000", light="#fff", title=title, svgclass="ticket-qr",
                        omitsize=False)
    # An image to assistive technology, named by its title (segno escapes the title's text).
    return svg.replace("<svg ", '<svg role="img" aria-labelledby="ticket-qr-title" ', 1).replace(
        "<title>", '<title id="ticket-qr-title">', 1)


def ticket_qr_png(*, code: str) -> bytes:
    """The same QR code as PNG bytes (the tests decode it; a mail client could show it)."""
    buffer = io.BytesIO()
    segno.make(code, error="m", micro=False).save(buffer, kind="png", scale=5, border=4)
    return buffer.getvalue()
