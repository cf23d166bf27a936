from django.apps import AppConfig


class ElonaraConfig(AppConfig):
    name = "elonara"
    default_auto_field = "django.db.models.BigAutoField"
