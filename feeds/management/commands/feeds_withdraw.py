from django.core.management.base import BaseCommand, CommandError

from feeds import services
from feeds.errors import FeedError


class Command(BaseCommand):
    help = "Delete every feed record Elonara published (the feeds disappear from the Bluesky app)."

    def handle(self, *args, **options) -> None:
        try:
            count = services.feeds_withdraw()
        except FeedError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"withdrew {count} feed record(s)")
