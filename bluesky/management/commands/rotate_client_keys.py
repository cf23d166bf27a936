"""Roll our OAuth client signing key over: the new key is published now and signs once every
authorization server's copy of our JWKS has expired. Old public keys stay published while sessions
use them."""

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from bluesky.keys import client_key_rotate


class Command(BaseCommand):
    help = ("Publish a new OAuth client signing key; it takes over after BLUESKY_JWKS_CACHE_SECONDS "
            "(the longest time servers cache our jwks.json).")

    def add_arguments(self, parser):
        parser.add_argument("--immediately", action="store_true",
                            help="Sign with the new key at once (a leaked key). Sign-ins fail at servers "
                                 "holding our old JWKS until their copy expires.")

    def handle(self, *args, immediately: bool = False, **options):
        new, signs_from, dropped = client_key_rotate(immediately=immediately)
        if immediately:
            self.stdout.write(self.style.WARNING(
                f"Key {new.kid} signs now. Servers that cached our JWKS in the last "
                f"{settings.BLUESKY_JWKS_CACHE_SECONDS} s refuse sign-ins until they fetch it again."))
        else:
            seconds = round((signs_from - timezone.now()).total_seconds())
            self.stdout.write(self.style.SUCCESS(
                f"Key {new.kid} is published in jwks.json now and takes over signing at "
                f"{signs_from:%Y-%m-%d %H:%M:%S %Z} (in {seconds} s, after the longest JWKS cache); "
                f"the current key signs until then."))
        self.stdout.write(f"{dropped} unused old key(s) removed.")
