"""Deploy checks for the Bluesky integration."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register


@register(Tags.security, deploy=True)
def bluesky_deploy_checks(app_configs, **kwargs):
    problems = []
    if not settings.DEBUG and not [k for k in settings.FIELD_ENCRYPTION_KEYS if k.strip()]:
        problems.append(
            Error(
                "FIELD_ENCRYPTION_KEYS is empty: stored Bluesky secrets cannot be encrypted.",
                hint="Generate one with: python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'",
                id="bluesky.E001",
            )
        )
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
