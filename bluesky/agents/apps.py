from django.apps import AppConfig


class AgentsConfig(AppConfig):
    # Posting backends and the writes-mode switch; a separate app label keeps its migrations apart.
    name = "bluesky.agents"
    label = "bluesky_agents"
    default_auto_field = "django.db.models.BigAutoField"
