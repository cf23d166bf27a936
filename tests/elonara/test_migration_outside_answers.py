"""elonara 0007: an existing database with several outside answers of one account to one event
keeps only the newest of each (highest firehose sequence number), loses nothing else, and then
holds the one-per-account constraint. Runs on SQLite (fast tier) and PostgreSQL (services tier)."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

BEFORE = [("elonara", "0006_event_conversation")]
AFTER = [("elonara", "0007_outside_rsvp_one_per_account")]


def _migrate(targets):
    """Migrate to `targets`; the models as the database now has them (every applied migration of
    every app, not only the targets' ancestors)."""
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    applied = MigrationRecorder(connection).applied_migrations()
    return executor.loader.project_state([node for node in applied if node in executor.loader.graph.nodes]).apps


@pytest.mark.django_db(transaction=True)
def test_duplicate_outside_answers_keep_the_newest_and_nothing_else_is_lost():
    apps = _migrate(BEFORE)
    try:
        Member = apps.get_model("members", "Member")
        Event = apps.get_model("elonara", "Event")
        ExternalRSVP = apps.get_model("elonara", "ExternalRSVP")
        host = Member.objects.create(username="host-0007")
        start = timezone.now() + timedelta(days=3)
        first, second = (Event.objects.create(title=title, starts_at=start, ends_at=start + timedelta(hours=2),
                                              host=host) for title in ("One", "Two"))
        carol, dave = "did:plc:" + "c" * 24, "did:plc:" + "d" * 24

        def answer(event, did, seq, status="going"):
            return ExternalRSVP.objects.create(event=event, did=did, status=status, seq=seq, cid="bafy",
                                               uri=f"at://{did}/community.lexicon.calendar.rsvp/{event.pk}-{seq}")

        # Carol answered the first event three times (the one with seq 30 is her latest), and the
        # second once; Dave answered the first once.
        answer(first, carol, 10)
        newest = answer(first, carol, 30, status="notgoing")
        answer(first, carol, 20)
        only_second = answer(second, carol, 5)
        dave_first = answer(first, dave, 7)

        apps = _migrate(AFTER)
        ExternalRSVP = apps.get_model("elonara", "ExternalRSVP")
        kept = set(ExternalRSVP.objects.values_list("pk", flat=True))
        assert kept == {newest.pk, only_second.pk, dave_first.pk}
        assert ExternalRSVP.objects.get(pk=newest.pk).status == "notgoing"

        # From now on the database itself refuses a second answer of one account to one event.
        Event = apps.get_model("elonara", "Event")
        with pytest.raises(IntegrityError), transaction.atomic():
            ExternalRSVP.objects.create(event=Event.objects.get(pk=first.pk), did=carol, status="going",
                                        seq=40, cid="bafy", uri=f"at://{carol}/community.lexicon.calendar.rsvp/x")
    finally:
        # Leave the database at the latest migration for the tests that follow.
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
