"""What members says happened, for the apps above it to react to (connected in their `ready()`).

`email_to_confirm` is sent once the change commits (notifications queues the confirmation link);
`password_reset_requested` when a reset is asked for (it changes nothing of members': notifications
queues the reset mail). `member_deleting` is sent inside the deletion's
transaction, before the member's row goes: what other apps keep of theirs (events they host,
communities they made) must go in the same transaction, or not at all."""

from django.dispatch import Signal

email_to_confirm = Signal()  # kwargs: member
password_reset_requested = Signal()  # kwargs: member
member_deleting = Signal()  # kwargs: member
