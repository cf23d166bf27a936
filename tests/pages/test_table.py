"""The pages' table (pages.table) names every model that may show on a kept page: a model related
to a shown one (or to Event, Community, Member, NetworkEvent) is either in the table or in
NOT_SHOWN with its reason. A newcomer's model fails here instead of leaving a page stale."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models

from core.page_cache import PageRowsQuerySet
from pages.table import NOT_SHOWN, TABLE

ROOT = Path(__file__).resolve().parents[2]
CENTRAL = {"elonara.Event", "elonara.Community", "network.NetworkEvent", get_user_model()._meta.label}


def _label(model: type[models.Model]) -> str:
    return model._meta.concrete_model._meta.label


def _related(model: type[models.Model]) -> set[str]:
    """The models this one points at or is pointed at by (FK, one-to-one, many-to-many)."""
    return {_label(f.related_model) for f in model._meta.get_fields()
            if f.is_relation and f.related_model is not None and not isinstance(f.related_model, str)}


def test_every_model_related_to_a_shown_one_is_in_the_table_or_said_not_shown():
    shown = {row.model for row in TABLE}
    named = CENTRAL | shown
    # Our apps' models (any app of this repository, a new one too), not Django's own.
    # (Top-level folders of the repository: a virtualenv inside it holds Django's own apps.)
    ours = [m for m in apps.get_models(include_auto_created=True) if Path(m._meta.app_config.path).parent == ROOT]
    missing = sorted({_label(m) for m in ours if _related(m) & named} - shown - set(NOT_SHOWN))
    assert missing == [], f"add these to pages.table.TABLE or to NOT_SHOWN with a reason: {missing}"


def test_the_not_shown_list_gives_reasons_and_names_no_shown_model():
    shown = {row.model for row in TABLE}
    assert not shown & set(NOT_SHOWN)
    assert all(len(reason) > 10 for reason in NOT_SHOWN.values())
    for label in NOT_SHOWN:
        apps.get_model(label)  # no stale name


def test_every_shown_model_renews_its_update_and_bulk_writes():
    for row in TABLE:
        model = apps.get_model(row.model)
        assert issubclass(model._default_manager._queryset_class, PageRowsQuerySet), row.model
