"""Signals: any saved or deleted event or community (service, admin, shell) drops the home page's
cached "Upcoming events" fragment after commit; a DID that becomes a member's takes its outside answers."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from bluesky.services import did_linked
from elonara.firehose import outside_answers_adopt
from elonara.models import Community, Event
from elonara.services import upcoming_events_changed


@receiver([post_save, post_delete], sender=Event)
@receiver([post_save, post_delete], sender=Community)
def _listing_changed(sender, **kwargs) -> None:
    upcoming_events_changed()


@receiver(did_linked)
def _did_became_a_member(sender, *, member_id: int, did: str, **kwargs) -> None:
    # Their answers given in other apps are a member's answers from now on.
    outside_answers_adopt(did=did, member_id=member_id)
