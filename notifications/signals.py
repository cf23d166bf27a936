"""Signal adapters: each calls one service."""

from __future__ import annotations

from notifications import services


def on_rsvp_changed(sender, rsvp, change="answered", **kwargs) -> None:
    services.rsvp_answered(rsvp=rsvp, change=change)
