from django.db import migrations

from core.ledger_guard import guard


class Migration(migrations.Migration):
    dependencies = [("energy", "0004_ingestion")]

    operations = [
        guard(
            "energy_reading",
            ["source_id", "report_id", "sample_time", "power", "energy"],
        ),
        guard(
            "energy_report",
            ["source_id", "method", "received", "request_id", "signature", "samples"],
        ),
    ]
