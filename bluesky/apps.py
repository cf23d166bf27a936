from django.apps import AppConfig


class BlueskyConfig(AppConfig):
    name = "bluesky"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from bluesky import checks  # noqa: F401  (registers the deploy checks)
