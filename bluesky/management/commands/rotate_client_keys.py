"""Start signing with a new client key. Old public keys stay published while sessions use them."""

from django.core.management.base import BaseCommand

from bluesky.keys import client_key_rotate


class Command(BaseCommand):
    help = "Create a new active OAuth client signing key and retire the current one."

    def handle(self, *args, **options):
        new, dropped = client_key_rotate()
        self.stdout.write(self.style.SUCCESS(f"Active key is now {new.kid}; {dropped} unused old key(s) removed."))
