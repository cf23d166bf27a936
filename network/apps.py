from django.apps import AppConfig


class NetworkConfig(AppConfig):
    """Events made in other AT Protocol apps, read from the network (firehose or a pasted link)."""

    name = "network"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from network import services

        services.register_writers()
