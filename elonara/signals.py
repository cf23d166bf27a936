"""Model signals: any saved or deleted event or community (service, admin, shell) drops the home
page's cached "Upcoming events" fragment after commit."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from elonara.models import Community, Event
from elonara.services import upcoming_events_changed


@receiver([post_save, post_delete], sender=Event)
@receiver([post_save, post_delete], sender=Community)
def _listing_changed(sender, **kwargs) -> None:
    upcoming_events_changed()
