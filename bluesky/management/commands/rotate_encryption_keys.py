"""Re-encrypt every stored secret under the first FIELD_ENCRYPTION_KEYS key.

Run after putting a new key first; once it reports nothing left to rotate, the old keys can be
removed. Rows already encrypted with the first key are left untouched, so it is idempotent and
safe to re-run after an interruption, and safe while the site runs (see
`bluesky.crypto.encrypted_rows_rotate`).
"""

from django.apps import apps
from django.core.management.base import BaseCommand

from bluesky.crypto import encrypted_fields, encrypted_rows_rotate


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            if not encrypted_fields(model):
                continue
            rotated = encrypted_rows_rotate(model)
            total += rotated
            self.stdout.write(f"{model._meta.label}: {rotated} value(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done: {total} value(s) re-encrypted."))
