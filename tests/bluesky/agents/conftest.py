import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Admin pages render {% static %}; the manifest storage of production needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
