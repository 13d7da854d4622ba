# The dashboard's indexes on the SLA clocks (2,000,000 rows at 1,000,000 tickets): built
# concurrently on PostgreSQL, so the upgrade does not stop SLA writes (docs/sla.md).

from django.db import migrations, models

from tickets.migrations._operations import AddIndexConcurrentlyOnPostgres


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
