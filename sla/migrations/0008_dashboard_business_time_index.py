# The median business time to resolve reads only this index (built concurrently on
# PostgreSQL: clock writes go on meanwhile).

from django.contrib.postgres.operations import AddIndexConcurrently
from django.db import migrations, models


class AddIndexConcurrentlyOnPostgres(AddIndexConcurrently):
    """``CREATE INDEX CONCURRENTLY`` on PostgreSQL (writes to the table go on while the
    index builds: minutes on a large register), a plain ``CREATE INDEX`` elsewhere (SQLite:
    the embedded run and the tests)."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_forwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_forwards(
            self, app_label, schema_editor, from_state, to_state
        )

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == "postgresql":
            return super().database_backwards(app_label, schema_editor, from_state, to_state)
        return migrations.AddIndex.database_backwards(
            self, app_label, schema_editor, from_state, to_state
        )


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("sla", "0007_dashboard_open_counts_and_waits"),
        ("tickets", "0006_dashboard_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="slaclock",
            index=models.Index(
                condition=models.Q(
                    ("margin__isnull", False),
                    ("outcome__in", ["met", "breached"]),
                    ("target", "resolution"),
                ),
                fields=["stopped_at"],
                include=("goal", "margin", "ticket"),
                name="sla_clock_business_idx",
            ),
        ),
    ]
