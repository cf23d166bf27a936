from celery import shared_task

from elonara.services import event_recount


@shared_task(acks_late=True)
def event_refresh_counts(event_id: int) -> None:
    event_recount(event_id=event_id)
