"""PostgreSQL only: a title-only vector with its own GIN index. Search picks its candidates
among title matches first; a weight-restricted query on the whole vector (``word:*A``) has no
statistics, and the planner then scanned the whole table for it (bench/kb_search.py)."""

from django.db import migrations

FORWARD = [
    """
    ALTER TABLE kb_article ADD COLUMN title_vector tsvector GENERATED ALWAYS AS (
        to_tsvector('simple'::regconfig, search_title)
    ) STORED
    """,
    "CREATE INDEX kb_article_title_vector_idx ON kb_article USING gin (title_vector)",
]
BACKWARD = [
    "DROP INDEX IF EXISTS kb_article_title_vector_idx",
    "ALTER TABLE kb_article DROP COLUMN IF EXISTS title_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [("kb", "0002_postgres_search")]

    operations = [migrations.RunPython(_run(FORWARD), _run(BACKWARD))]
