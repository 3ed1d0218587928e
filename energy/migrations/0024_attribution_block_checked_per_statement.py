import django.db.models.deletion
from django.db import migrations, models

from core.ledger_guard import references


class Migration(migrations.Migration):
    """An attribution's ledger block is checked once per statement by triggers, not
    once per row by a foreign key: anchoring marks 10,000 rows per block. The
    triggers come first, so the rule holds throughout."""

    dependencies = [
        ("chain", "0007_blocks_are_append_only"),
        ("energy", "0023_quarantine_queue_index"),
    ]

    operations = [
        references("energy_attribution", "ledger_block_id", "chain_ledgerblock"),
        migrations.AlterField(
            model_name="attribution",
            name="ledger_block",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="attributions",
                to="chain.ledgerblock",
            ),
        ),
    ]
