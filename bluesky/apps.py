from django.apps import AppConfig


class BlueskyConfig(AppConfig):
    name = "bluesky"
    default_auto_field = "django.db.models.BigAutoField"
