"""Encryption of stored secrets (tokens, DPoP and client keys, app passwords).

`FIELD_ENCRYPTION_KEYS` holds Fernet keys: the first encrypts, every key decrypts, so a new key
is put first and `manage.py rotate_encryption_keys` re-encrypts old rows before the old key is
dropped. With DEBUG on and no keys configured, a development key is derived from SECRET_KEY so
`make run` works out of the box; production refuses to start without real keys (see checks.py).
"""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, models, transaction

from core.errors import ApplicationError


class SecretDecryptionError(ApplicationError):
    """A stored secret could not be decrypted with any configured key (an operator's mistake)."""

    code = "secret_undecryptable"
    http_status = 500

    def __init__(self) -> None:
        super().__init__("A stored secret could not be decrypted; is a key missing from FIELD_ENCRYPTION_KEYS?")


def configured_keys() -> tuple[str, ...]:
    keys = tuple(k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip())
    if keys:
        return keys
    if settings.DEBUG:
        digest = hashlib.sha256(b"elonara-dev-field-key:" + settings.SECRET_KEY.encode()).digest()
        return (base64.urlsafe_b64encode(digest).decode(),)
    raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS must be set when DEBUG is off.")


@lru_cache(maxsize=8)
def _multifernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(k.encode()) for k in keys])
    except ValueError as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS holds a value that is not a Fernet key.") from exc


def fernet() -> MultiFernet:
    return _multifernet(configured_keys())


def encrypt_str(plaintext: str) -> str:
    return fernet().encrypt(plaintext.encode()).decode()


def decrypt_str(token: str) -> str:
    try:
        return fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError() from exc


def rotate_token(token: str) -> str:
    """Re-encrypt one stored token under the first key (decrypting with any key)."""
    try:
        return fernet().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretDecryptionError() from exc


def is_encrypted_with_primary_key(token: str) -> bool:
    primary = Fernet(configured_keys()[0].encode())
    try:
        primary.decrypt(token.encode())
    except InvalidToken:
        return False
    return True


class EncryptedTextField(models.TextField):
    """A text column whose value is stored Fernet-encrypted; Python code sees plaintext.

    Empty strings are stored as empty strings (nothing to hide, and it keeps "no secret"
    distinguishable without decrypting). The column never holds a non-empty plaintext.
    """

    description = "Text encrypted at rest with FIELD_ENCRYPTION_KEYS"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt_str(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt_str(value)

    def deconstruct(self):
        name, _path, args, kwargs = super().deconstruct()
        return name, "bluesky.crypto.EncryptedTextField", args, kwargs


def encrypted_fields(model: type[models.Model]) -> list[str]:
    return [f.attname for f in model._meta.concrete_fields if isinstance(f, EncryptedTextField)]


def encrypted_rows_rotate(model: type[models.Model]) -> int:
    """Re-encrypt every encrypted value of `model` under the first key; returns how many changed.

    Safe while the site runs: each row is rewritten only if it still holds the ciphertext that was
    read (a compare-and-swap in the UPDATE), so a refresh that committed new tokens in between is
    never overwritten with the old ones. Such a row was written with the first key already; it is
    read again and checked once more. Raw SQL on the stored text: nothing is decrypted for rows
    that are already current.
    """
    names = set(encrypted_fields(model))
    columns = [field.column for field in model._meta.concrete_fields if field.name in names]
    if not columns:
        return 0
    table = connection.ops.quote_name(model._meta.db_table)
    pk_field = model._meta.pk
    if pk_field is None:  # abstract models have no table
        return 0
    pk = connection.ops.quote_name(pk_field.column)
    quoted = [connection.ops.quote_name(c) for c in columns]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {pk} FROM {table}")  # noqa: S608 - identifiers only
        keys = [row[0] for row in cursor.fetchall()]
    return sum(_row_rotate(table=table, pk=pk, quoted=quoted, key=key) for key in keys)


def _row_rotate(*, table: str, pk: str, quoted: list[str], key: int | str, attempts: int = 3) -> int:
    for _ in range(attempts):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {', '.join(quoted)} FROM {table} WHERE {pk} = %s", [key])  # noqa: S608
            found = cursor.fetchone()
        if found is None:
            return 0  # deleted meanwhile
        seen = dict(zip(quoted, found, strict=True))
        updates = {c: rotate_token(v) for c, v in seen.items() if v and not is_encrypted_with_primary_key(v)}
        if not updates:
            return 0
        assignments = ", ".join(f"{c} = %s" for c in updates)
        unchanged = " AND ".join(f"{c} = %s" for c in updates)
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} SET {assignments} WHERE {pk} = %s AND {unchanged}",  # noqa: S608 - identifiers
                [*updates.values(), key, *(seen[c] for c in updates)],
            )
            if cursor.rowcount == 1:
                return len(updates)
        # The row changed between our read and our write (a refresh stored new tokens): read again.
    return 0
