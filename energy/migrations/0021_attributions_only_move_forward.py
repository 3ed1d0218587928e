from django.db import migrations

from core.ledger_guard import forward_only


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0020_source_commissioning_date"),
    ]

    operations = [
        forward_only(
            "energy_attribution",
            ["state", "hash", "ledger_block_id", "height", "block_id", "quality"],
        ),
    ]
