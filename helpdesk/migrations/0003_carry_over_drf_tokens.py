"""Carry DRF's single tokens (``rest_framework.authtoken``, no longer installed) over to
named API tokens, so that clients keep working after the upgrade; then empty its table,
which held the keys in clear text.

The old table is read with SQL because its app is gone from INSTALLED_APPS. Each token gets
the default lifetime from today and the name "Token from before the upgrade".
"""

import hashlib
from datetime import timedelta

from django.conf import settings
from django.db import migrations
from django.utils import timezone

OLD_TABLE = "authtoken_token"


def carry_over(apps, schema_editor):
    connection = schema_editor.connection
    if OLD_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("helpdesk", "ApiToken")
    table, key_column = connection.ops.quote_name(OLD_TABLE), connection.ops.quote_name("key")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {key_column}, user_id FROM {table}")  # noqa: S608
        rows = cursor.fetchall()
    expires_at = timezone.now() + timedelta(days=settings.API_TOKEN_DEFAULT_DAYS)
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="Token from before the upgrade",
            prefix=key[:8],
            key_digest=hashlib.sha256(key.encode()).hexdigest(),
            expires_at=expires_at,
        )
        for key, user_id in rows
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608


class Migration(migrations.Migration):
    dependencies = [("helpdesk", "0002_add_api_tokens")]

    operations = [migrations.RunPython(carry_over, migrations.RunPython.noop)]
