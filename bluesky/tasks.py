from celery import shared_task

from bluesky.services import oauth_requests_cleanup


@shared_task
def oauth_requests_cleanup_task() -> int:
    return oauth_requests_cleanup()
