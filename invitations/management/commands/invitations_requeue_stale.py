"""Re-publish sending for invitations left waiting longer than --minutes (e.g. from cron)."""

from datetime import timedelta

from django.core.management.base import BaseCommand

from invitations.services import invitations_requeue_stale


class Command(BaseCommand):
    help = "Publish the send task again for invitations stuck in pending/queued/sending."

    def add_arguments(self, parser):
        parser.add_argument("--minutes", type=int, default=30)

    def handle(self, *args, minutes: int, **options):
        count = invitations_requeue_stale(older_than=timedelta(minutes=minutes))
        self.stdout.write(f"{count} invitation task(s) published again")
