"""Trigram indexes for free-text search of ticket titles and people's names (PostgreSQL).

``icontains`` compiles to ``UPPER(col::text) LIKE UPPER('%text%')`` on PostgreSQL; a GIN
trigram index on that expression turns a scan of every ticket into an index lookup.
SQLite has no such index type and keeps scanning (fine at the embedded default's size).
"""

from django.db import migrations

INDEXES = [
    ("tickets_ticket_title_trgm", "tickets_ticket", "title"),
    ("helpdesk_person_full_name_trgm", "helpdesk_person", "full_name"),
]


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, table, column in INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} "  # noqa: S608 (constants above)
            f"USING gin ((UPPER({column}::text)) gin_trgm_ops)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _table, _column in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("helpdesk", "0001_initial_directory"),
        ("tickets", "0001_initial_register"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
