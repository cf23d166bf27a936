"""System checks for the Bluesky integration.

`encryption_keys_check` runs on every start-up (runserver, migrate, any management command), so a
production process without usable FIELD_ENCRYPTION_KEYS refuses to start instead of failing at
the first secret it stores. The rest are deploy checks (`check --deploy`).
"""

from cryptography.fernet import Fernet
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

_KEY_HINT = ("Generate one with: python -c 'from cryptography.fernet import Fernet; "
             "print(Fernet.generate_key().decode())'")


@register(Tags.security)
def encryption_keys_check(app_configs, **kwargs):
    keys = [k.strip() for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]
    if not keys and not settings.DEBUG:
        return [Error("FIELD_ENCRYPTION_KEYS is empty: stored Bluesky secrets cannot be encrypted.",
                      hint=_KEY_HINT, id="bluesky.E001")]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            # The position, never the value: this message ends up in logs.
            return [Error(f"FIELD_ENCRYPTION_KEYS entry {position} is not a Fernet key.", hint=_KEY_HINT,
                          id="bluesky.E002")]
    return []


@register(Tags.security, deploy=True)
def bluesky_deploy_checks(app_configs, **kwargs):
    problems = []
    if settings.ATPROTO_ALLOW_INSECURE_HOSTS:
        problems.append(
            Warning(
                "ATPROTO_ALLOW_INSECURE_HOSTS is on: outbound AT Protocol fetches may use http and "
                "reach loopback/private addresses. Only for a local test network.",
                id="bluesky.W001",
            )
        )
    if not settings.ELONARA_PUBLIC_URL.startswith("https://"):
        problems.append(
            Warning(
                "ELONARA_PUBLIC_URL is not https: Bluesky OAuth runs as the loopback development client.",
                id="bluesky.W002",
            )
        )
    return problems


@register()
def dispatch_horizon_check(app_configs, **kwargs):
    """The broker must never hold a countdown message longer than its visibility timeout: with Redis,
    a message not acknowledged in time is delivered again. Every kind of write (invitations, event
    and RSVP records, deletions) waits longer than the horizon as a due time in the database, so
    this one bound covers them all; the lease must outlast the horizon too, or a published message
    would be published again before it is due."""
    from bluesky import pipeline

    problems = []
    timeout = settings.CELERY_BROKER_TRANSPORT_OPTIONS.get("visibility_timeout")
    horizon = settings.INVITATIONS_DISPATCH_HORIZON_SECONDS
    if timeout is not None and horizon >= timeout:
        problems.append(Error(
            f"INVITATIONS_DISPATCH_HORIZON_SECONDS ({horizon}) must be shorter than "
            f"CELERY_VISIBILITY_TIMEOUT ({timeout}): messages due later would be delivered twice.",
            id="bluesky.E003"))
    if settings.BLUESKY_WRITE_LEASE_SECONDS <= horizon:
        problems.append(Error(
            f"BLUESKY_WRITE_LEASE_SECONDS ({settings.BLUESKY_WRITE_LEASE_SECONDS}) must be longer than "
            f"INVITATIONS_DISPATCH_HORIZON_SECONDS ({horizon}).", id="bluesky.E004"))
    from bluesky.models import RecordWrite

    missing = sorted(set(RecordWrite.Kind.values) - set(pipeline.registered_kinds()))
    if missing:
        problems.append(Error(f"No writer registered for record writes of kind {', '.join(missing)}.",
                              id="bluesky.E005"))
    return problems
