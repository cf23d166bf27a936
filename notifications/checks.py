"""Production refuses to start when mail would go nowhere.

Runs on every start-up (migrate, runserver, `check --deploy` in `make serve`): password reset and
event notices that are silently printed to a console or dropped are worse than a clear refusal.
"""

from django.conf import settings
from django.core.checks import Error, register

# Backends that never deliver anything to anyone.
NOT_DELIVERING = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)


@register()
def mail_backend_check(app_configs, **kwargs):
    if settings.DEBUG or not settings.EMAIL_ENABLED:
        return []
    if not settings.EMAIL_URL or settings.EMAIL_BACKEND in NOT_DELIVERING:
        return [Error("EMAIL_URL does not name a delivering mail backend (smtp://, smtp+tls:// or smtp+ssl://): "
                      "password reset and event mail would go nowhere.",
                      hint="Set EMAIL_URL (and DEFAULT_FROM_EMAIL), or EMAIL_ENABLED=false to run without mail.",
                      id="notifications.E001")]
    return []
