"""network 0004 / elonara 0015: the firehose cursor moves from elonara to network with its table
and rows. A database filled before the move keeps where the consumer was, and the consumer reads it
through the network's model. Runs on SQLite (fast tier) and PostgreSQL (services tier)."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.recorder import MigrationRecorder

BEFORE = [("elonara", "0014_announcement"), ("network", "0003_reports_hidden")]
AFTER = [("elonara", "0015_firehose_cursor_to_network")]
SOURCE = "wss://relay.example"


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    applied = MigrationRecorder(connection).applied_migrations()
    return executor.loader.project_state([node for node in applied if node in executor.loader.graph.nodes]).apps


@pytest.mark.django_db(transaction=True)
def test_the_cursor_moves_to_network_with_its_rows():
    apps = _migrate(BEFORE)
    try:
        OldCursor = apps.get_model("elonara", "FirehoseCursor")
        OldCursor.objects.create(source=SOURCE, seq=4242, last_error="OutdatedCursor: kept")

        apps = _migrate(AFTER)
        with pytest.raises(LookupError):
            apps.get_model("elonara", "FirehoseCursor")
        row = apps.get_model("network", "FirehoseCursor").objects.get(source=SOURCE)
        assert (row.seq, row.last_error) == (4242, "OutdatedCursor: kept")
    finally:
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
    # The consumer resumes from it.
    from network.firehose import firehose_cursor_get

    assert firehose_cursor_get(source=SOURCE) == 4242


@pytest.mark.django_db
def test_the_cursor_admin_moved_with_it(client, django_user_model):
    staff = django_user_model.objects.create_superuser(username="staff", password="not-a-secret-1", email="s@x.org")
    client.force_login(staff)
    old = client.get("/admin/elonara/firehosecursor/?o=1")
    assert (old.status_code, old["Location"]) == (308, "/admin/network/firehosecursor/?o=1")
    assert client.get(old["Location"]).status_code == 200
