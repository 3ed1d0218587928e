from django.db import migrations

from core.ledger_guard import guard


class Migration(migrations.Migration):
    dependencies = [("energy", "0002_initial")]

    operations = [
        guard(
            "energy_attribution",
            ["source_id", "kind", "seq", "external_id", "effective_time", "value", "created"],
        ),
    ]
