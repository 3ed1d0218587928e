import django.db.models.deletion
from django.db import migrations, models

from core.ledger_guard import references


class Migration(migrations.Migration):
    """A REC's and a retirement's ledger block are checked once per statement by
    triggers, not once per row by a foreign key, as an attribution's are."""

    dependencies = [
        ("chain", "0007_blocks_are_append_only"),
        ("recs", "0015_tokenizations"),
    ]

    operations = [
        references("recs_rec", "ledger_block_id", "chain_ledgerblock"),
        references("recs_retirement", "ledger_block_id", "chain_ledgerblock"),
        migrations.AlterField(
            model_name="rec",
            name="ledger_block",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="recs",
                to="chain.ledgerblock",
            ),
        ),
        migrations.AlterField(
            model_name="retirement",
            name="ledger_block",
            field=models.ForeignKey(
                blank=True,
                db_constraint=False,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="retirements",
                to="chain.ledgerblock",
            ),
        ),
    ]
