from django.apps import AppConfig


class ElonaraConfig(AppConfig):
    name = "elonara"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from elonara import announcements, host_messages, publishing, signals  # noqa: F401 - connects the receivers

        publishing.register_writers()
        announcements.register_writers()
        host_messages.register_writers()
