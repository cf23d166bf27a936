"""Signals: a DID that becomes a member's takes its outside answers. (Which kept pages a change
renews is the pages app's table, pages.table, for every model of every app.)"""

from django.dispatch import receiver

from bluesky.services import did_linked
from elonara.outside_answers import outside_answers_adopt


@receiver(did_linked)
def _did_became_a_member(sender, *, member_id: int, did: str, **kwargs) -> None:
    # Their answers given in other apps are a member's answers from now on (each answer taken
    # renews their home, as any answer's save does).
    outside_answers_adopt(did=did, member_id=member_id)
