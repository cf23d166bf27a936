"""Signal adapters: each calls one service. Connected in NotificationsConfig.ready(); every signal
here is sent by the app that owns the change, once it commits."""

from __future__ import annotations

from notifications import services


def on_rsvp_changed(sender, rsvp, change="answered", **kwargs) -> None:
    services.rsvp_answered(rsvp=rsvp, change=change)


def on_event_changed(sender, *, before, after, **kwargs) -> None:
    services.event_changed(before=before, after=after)


def on_event_cancelled(sender, *, event, **kwargs) -> None:
    services.event_cancelled(event=event)


def on_questions_asked(sender, *, event, member_ids, **kwargs) -> None:
    services.questions_ask(event=event, member_ids=member_ids)


def on_host_message_sent(sender, *, message, **kwargs) -> None:
    services.host_message_queue(message=message)


def on_email_to_confirm(sender, *, member, **kwargs) -> None:
    services.member_email_changed(member=member)


def on_password_reset_requested(sender, *, member, **kwargs) -> None:
    services.password_reset_request(member=member)
