"""The user model's type, for annotations in the apps below members (bluesky), which must not
import members: `settings.AUTH_USER_MODEL`, read by django-stubs' mypy plugin. At run time those
apps reach the model through `django.contrib.auth.get_user_model()`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # A name of the stubs only (no such thing at run time): the plugin resolves it to the user model.
    from django.contrib.auth.models import _User as Member  # noqa: F401 - the name the apps import
