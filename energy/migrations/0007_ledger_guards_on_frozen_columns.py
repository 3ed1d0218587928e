from django.db import migrations

from core.ledger_guard import guard


class Migration(migrations.Migration):
    dependencies = [("energy", "0006_attribution_ledger_block_alter_attribution_rec_and_more")]

    # Re-created to fire only on updates naming a frozen column.
    operations = [
        guard(
            "energy_attribution",
            ["source_id", "kind", "seq", "external_id", "effective_time", "value", "created"],
            replace=True,
        ),
        guard(
            "energy_reading",
            ["source_id", "report_id", "sample_time", "power", "energy"],
            replace=True,
        ),
        guard(
            "energy_report",
            ["source_id", "method", "received", "request_id", "signature", "samples"],
            replace=True,
        ),
    ]
