# The dashboard's indexes on the SLA clocks (2,000,000 rows at 1,000,000 tickets): built
# concurrently on PostgreSQL, so the upgrade does not stop SLA writes (docs/sla.md).

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
        ("sla", "0005_dashboard_summary_and_indexes"),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="slaclock",
            index=models.Index(
                condition=models.Q(("outcome__in", ["met", "breached"])),
                fields=["stopped_at"],
                include=("target", "outcome", "goal", "margin", "ticket"),
                name="sla_clock_stopped_idx",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="slaclock",
            index=models.Index(
                condition=models.Q(
                    ("due_at__isnull", False),
                    ("paused_since__isnull", True),
                    ("stopped_at__isnull", True),
                ),
                fields=["target", "due_at"],
                include=("goal", "ticket"),
                name="sla_clock_running_idx",
            ),
        ),
    ]
