from django.apps import AppConfig


class FeedsConfig(AppConfig):
    """Elonara as a Bluesky feed generator: events' posts served to the Bluesky app as feeds."""

    name = "feeds"
    default_auto_field = "django.db.models.BigAutoField"
