# The managers' dashboard's indexes (sla): built concurrently on PostgreSQL, so the upgrade
# does not stop ticket writes while they build over a large register (docs/sla.md).

from django.conf import settings
from django.db import migrations, models

from tickets.migrations._operations import AddIndexConcurrentlyOnPostgres


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("helpdesk", "0006_add_polish_names_of_reference_data"),
        ("tickets", "0005_ticket_due_at"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        AddIndexConcurrentlyOnPostgres(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("resolved_at__isnull", False)),
                fields=["resolved_at"],
                include=("created_at", "group", "service", "channel", "caller"),
                name="ticket_resolved_idx",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="ticket",
            index=models.Index(
                condition=models.Q(("status__in", ["new", "assigned", "in_progress", "pending"])),
                fields=["group", "priority"],
                include=("service", "channel", "caller"),
                name="ticket_open_idx",
            ),
        ),
        AddIndexConcurrentlyOnPostgres(
            model_name="timelineentry",
            index=models.Index(
                condition=models.Q(
                    ("transition__in", ["resolve", "reopen"]), ("kind", "transfer"), _connector="OR"
                ),
                fields=["created_at"],
                include=("ticket", "kind", "transition"),
                name="timeline_rates_idx",
            ),
        ),
    ]
