from django.db import migrations

from core.ledger_guard import forward_only


class Migration(migrations.Migration):
    dependencies = [
        ("recs", "0008_spans_hold_plausible_hours_only"),
    ]

    operations = [
        forward_only("recs_rec", ["state", "hash", "ledger_block_id", "height"]),
    ]
