from django.db import migrations

from core.ledger_guard import guard


class Migration(migrations.Migration):
    dependencies = [("recs", "0002_rec_append_only")]

    operations = [
        # Re-created to fire only on updates naming a frozen column.
        guard("recs_rec", ["customer_id", "source_id", "seq", "value", "created"], replace=True),
    ]
