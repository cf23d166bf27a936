from django.apps import AppConfig


class ElonaraConfig(AppConfig):
    name = "elonara"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from elonara import publishing, signals  # noqa: F401 - connects the receivers

        publishing.register_writers()
