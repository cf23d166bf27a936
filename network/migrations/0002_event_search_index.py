"""Full-text search of network events on PostgreSQL: a GIN index on the very expression
network.selectors builds (SearchVector("name", "description", config="simple")), so "Upcoming"
searches an index instead of computing every event's vector. Nothing on other databases (they
match words with LIKE)."""

from django.db import migrations

INDEX = "network_event_search"
EXPRESSION = "to_tsvector('simple'::regconfig, COALESCE(name, '') || ' ' || COALESCE(description, ''))"


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON network_networkevent USING gin ({EXPRESSION})")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("network", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
