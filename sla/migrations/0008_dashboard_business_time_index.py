# The median business time to resolve reads only this index (built concurrently on
# PostgreSQL: clock writes go on meanwhile).

from django.db import migrations, models

from tickets.migrations._operations import AddIndexConcurrentlyOnPostgres


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
