from django.core.management.base import BaseCommand, CommandError

from feeds import services
from feeds.errors import FeedError


class Command(BaseCommand):
    help = ("Publish (or update) Elonara's feed records (app.bsky.feed.generator) in the account named by "
            "FEEDS_PUBLISHER_IDENTIFIER, and delete those of communities that no longer want a feed.")

    def handle(self, *args, **options) -> None:
        try:
            rows = services.feeds_publish()
        except FeedError as exc:
            raise CommandError(exc.message) from exc
        for row in rows:
            self.stdout.write(f"published {row.uri}")
