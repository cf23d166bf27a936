"""Messages the host or a co-host writes to the guests ("we moved to room 4").

A message is a row (shown on the event page as "Updates from the host") and, in the same
transaction, one mail per recipient queued through notifications (its own topic, one-click
unsubscribe, sent once by the dispatcher). Rate limited per host and event: a mail to everyone
is not something to repeat many times an hour.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import gettext

from core.ratelimit import Limit, rate_limit_hit
from elonara.errors import InvalidInputError, NotAllowedError
from elonara.models import RSVP, Event, HostMessage
from elonara.selectors import event_can_manage
from members.models import Member
from notifications import hooks as mail_hooks

BODY_MAX = 2000
# Who sees the updates on the event page: the groups a message can be written to.
READERS = HostMessage.GROUPS


@transaction.atomic
def host_message_send(*, event: Event, actor: Member, body: str, groups: list[str]) -> HostMessage:
    """Write to the chosen groups (going, maybe, waitlisted, requested). Checked, counted against
    the host's limit, then saved with its mail queued (sent after commit)."""
    if not event_can_manage(event=event, member=actor):
        raise NotAllowedError(gettext("Only the host or a co-host can write to the guests."))
    if event.status == Event.Status.CANCELLED:
        raise NotAllowedError(gettext("This event is cancelled."))
    body = body.strip()
    if not body:
        raise InvalidInputError(gettext("Write the message."), field="body")
    if len(body) > BODY_MAX:
        raise InvalidInputError(f"Keep the message under {BODY_MAX} characters.", field="body")
    chosen = [g for g in HostMessage.GROUPS if g in groups]
    if not chosen or len(chosen) != len(set(groups)):
        raise InvalidInputError(gettext("Choose who gets the message."), field="groups")
    # Counted last, once the message is valid: a typo refused above does not use up the limit.
    rate_limit_hit(limit=Limit.named("host_message"), keys=[f"event:{event.pk}:member:{actor.pk}"])
    message = HostMessage.objects.create(event=event, author=actor, body=body, groups=chosen)
    mail_hooks.host_message_sent(message=message)
    return message


def host_messages_for(*, event: Event, member: Member | None) -> list[HostMessage]:
    """The updates a viewer may read, newest first: the hosts see every one; a guest those written
    to a group they are in now."""
    if member is None or not member.is_authenticated:
        return []
    messages = list(HostMessage.objects.filter(event=event).select_related("author"))
    if not messages or event_can_manage(event=event, member=member):
        return messages
    status = RSVP.objects.filter(event=event, member=member).values_list("status", flat=True).first()
    return host_messages_readable(messages=messages, status=status, is_manager=False)


def host_messages_readable(*, messages: list[HostMessage], status: str | None, is_manager: bool) -> list[HostMessage]:
    """Of the event's messages, those for a reader whose answer is `status`."""
    return messages if is_manager else [m for m in messages if status in m.groups]
