from django.apps import AppConfig


class PagesConfig(AppConfig):
    """The pages that compose every app (the member home, their calendar feed) and the one table of
    which model shows on which kept page (pages.table). Top floor: it may import any app, and no
    app but `config` imports it."""

    name = "pages"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from pages import table

        table.connect()
