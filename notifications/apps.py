from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Answers reach us through the events app's signal (sent after commit): the RSVP service
        # does not know about mail. Event changes and cancellations call notifications.hooks.
        from elonara.services import rsvp_changed
        from notifications import (
            checks,  # noqa: F401  (registers the mail-backend check)
            signals,
        )

        rsvp_changed.connect(signals.on_rsvp_changed, dispatch_uid="notifications:rsvp_changed")
