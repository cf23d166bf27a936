from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "notifications"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Mail reacts to what the apps below say happened, through their signals (each sent once
        # its change commits): the services that make the changes know nothing about mail.
        from elonara.answers import rsvp_changed
        from elonara.host_messages import host_message_sent
        from elonara.questions import questions_asked
        from elonara.services import event_cancelled, event_changed
        from members.signals import email_to_confirm, password_reset_requested
        from notifications import (
            checks,  # noqa: F401  (registers the mail-backend check)
            signals,
        )

        for signal, receiver in ((rsvp_changed, signals.on_rsvp_changed), (event_changed, signals.on_event_changed),
                                 (event_cancelled, signals.on_event_cancelled),
                                 (questions_asked, signals.on_questions_asked),
                                 (host_message_sent, signals.on_host_message_sent),
                                 (email_to_confirm, signals.on_email_to_confirm),
                                 (password_reset_requested, signals.on_password_reset_requested)):
            signal.connect(receiver, dispatch_uid=f"notifications:{receiver.__name__}")
