"""elonara 0011: on a database built at 0010, every event's host gets a going answer when they
hold none, and the going count includes them; an answer the host already gave is kept, and other
members' answers are untouched. Runs on SQLite (fast tier) and PostgreSQL (services tier)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from tests.elonara.test_migration_outside_answers import _migrate

BEFORE = [("elonara", "0010_rsvp_network_status")]
AFTER = [("elonara", "0011_host_going")]


@pytest.mark.django_db(transaction=True)
def test_existing_hosts_are_going_and_counted():
    apps = _migrate(BEFORE)
    try:
        Member = apps.get_model("members", "Member")
        Event = apps.get_model("elonara", "Event")
        RSVP = apps.get_model("elonara", "RSVP")
        host, other_host, ann = (Member.objects.create(username=name) for name in ("host-0011", "other-0011", "ann"))
        start = timezone.now() + timedelta(days=3)

        def make(title, by):
            return Event.objects.create(title=title, starts_at=start, ends_at=start + timedelta(hours=2), host=by)

        make("Quiet", host)
        busy, answered = make("Busy", host), make("Answered", other_host)
        RSVP.objects.create(event=busy, member=ann, status="going")
        RSVP.objects.create(event=answered, member=other_host, status="maybe")
        RSVP.objects.create(event=answered, member=ann, status="not_going")
        Event.objects.filter(pk=busy.pk).update(going_count=1)
        Event.objects.filter(pk=answered.pk).update(maybe_count=1)

        apps = _migrate(AFTER)
        Event = apps.get_model("elonara", "Event")
        RSVP = apps.get_model("elonara", "RSVP")
        answers = set(RSVP.objects.values_list("event__title", "member__username", "status", "publish_state"))
        assert answers == {
            ("Quiet", "host-0011", "going", ""), ("Busy", "host-0011", "going", ""), ("Busy", "ann", "going", ""),
            ("Answered", "other-0011", "maybe", ""), ("Answered", "ann", "not_going", ""),
        }
        counts = {e.title: (e.going_count, e.maybe_count) for e in Event.objects.all()}
        assert counts == {"Quiet": (1, 0), "Busy": (2, 0), "Answered": (0, 1)}
    finally:
        # Leave the database at the latest migration for the tests that follow.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
