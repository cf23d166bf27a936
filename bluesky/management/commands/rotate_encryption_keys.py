"""Re-encrypt every stored secret under the first FIELD_ENCRYPTION_KEYS key.

Run after putting a new key first; once it reports nothing left to rotate, the old keys can be
removed. Rows already encrypted with the first key are left untouched, so it is idempotent and
safe to re-run after an interruption.
"""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import connection, transaction

from bluesky.crypto import encrypted_fields, is_encrypted_with_primary_key, rotate_token


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column with the first key in FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        total = 0
        for model in apps.get_models():
            columns = [model._meta.get_field(name).column for name in encrypted_fields(model)]
            if not columns:
                continue
            rotated = self._rotate_model(model, columns)
            total += rotated
            self.stdout.write(f"{model._meta.label}: {rotated} value(s) re-encrypted")
        self.stdout.write(self.style.SUCCESS(f"Done: {total} value(s) re-encrypted."))

    def _rotate_model(self, model, columns: list[str]) -> int:
        # Raw SQL on the stored tokens: no plaintext is materialised for rows already current.
        table = connection.ops.quote_name(model._meta.db_table)
        pk = connection.ops.quote_name(model._meta.pk.column)
        quoted = [connection.ops.quote_name(c) for c in columns]
        rotated = 0
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {pk}, {', '.join(quoted)} FROM {table}")  # noqa: S608 - identifiers only
            rows = cursor.fetchall()
        for row in rows:
            updates = {}
            for column, value in zip(quoted, row[1:], strict=True):
                if value and not is_encrypted_with_primary_key(value):
                    updates[column] = rotate_token(value)
            if not updates:
                continue
            assignments = ", ".join(f"{c} = %s" for c in updates)
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET {assignments} WHERE {pk} = %s",  # noqa: S608 - identifiers only
                    [*updates.values(), row[0]],
                )
            rotated += len(updates)
        return rotated
