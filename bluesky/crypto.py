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
from django.db import models


class SecretDecryptionError(Exception):
    """A stored secret could not be decrypted with any configured key."""

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
