import pytest


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # Admin pages render {% static %}; the manifest storage of production needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _field_encryption_key(settings):
    # config/settings_test.py sets no FIELD_ENCRYPTION_KEYS and DEBUG is off, so give the tests a key.
    if not settings.FIELD_ENCRYPTION_KEYS:
        settings.FIELD_ENCRYPTION_KEYS = ["dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI="]


@pytest.fixture(autouse=True)
def _login_url(settings):
    # The members app's login page may not exist yet; login_required only needs a URL to redirect to.
    settings.LOGIN_URL = "/members/login/"
