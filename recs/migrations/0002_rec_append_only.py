from django.db import migrations

from core.ledger_guard import guard


class Migration(migrations.Migration):
    dependencies = [("recs", "0001_initial")]

    operations = [
        guard("recs_rec", ["customer_id", "source_id", "seq", "value", "created"]),
    ]
