from django.db import migrations, models

from core.ledger_guard import guard


class Migration(migrations.Migration):
    dependencies = [
        ("recs", "0013_transfers_and_retirements"),
    ]

    operations = [
        # The RECs already issued keep the leaf they were sealed with (v1, no serial);
        # every REC issued from now on commits to its serial (v2).
        migrations.AddField(
            model_name="rec",
            name="leaf_version",
            field=models.PositiveSmallIntegerField(db_default=1, default=1, editable=False),
        ),
        migrations.AlterField(
            model_name="rec",
            name="leaf_version",
            field=models.PositiveSmallIntegerField(db_default=2, default=2, editable=False),
        ),
        guard(
            "recs_rec",
            [
                "customer_id",
                "source_id",
                "seq",
                "serial",
                "value",
                "leaf_version",
                "production_start",
                "production_end",
                "created",
            ],
            replace=True,
        ),
    ]
