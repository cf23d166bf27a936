"""Signals: a DID that becomes a member's takes its outside answers; a member deleted takes their
events and communities along. (Which kept pages a change renews is the pages app's table,
pages.table, for every model of every app.)"""

from django.dispatch import receiver

from bluesky.services import did_linked
from elonara.outside_answers import outside_answers_adopt
from elonara.services import member_owned_delete
from members.signals import member_deleting


@receiver(did_linked)
def _did_became_a_member(sender, *, member_id: int, did: str, **kwargs) -> None:
    # Their answers given in other apps are a member's answers from now on (each answer taken
    # renews their home, as any answer's save does).
    outside_answers_adopt(did=did, member_id=member_id)


@receiver(member_deleting)
def _member_leaves(sender, *, member, **kwargs) -> None:
    # Inside the deletion's transaction: the events they host and the communities they made go
    # before their row (which these rows hold), their covers once it commits.
    member_owned_delete(member_id=member.pk)
