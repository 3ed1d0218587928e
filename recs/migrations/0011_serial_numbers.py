from django.db import migrations, models
from django.db.models import Q

from core.ledger_guard import guard


def number_the_recs(apps, schema_editor):
    """Each source's RECs get serials 1, 2, ... in issuance (id) order, and its issuance
    state the count."""
    Rec = apps.get_model("recs", "Rec")
    Issuance = apps.get_model("recs", "Issuance")
    rows = Rec.objects.order_by("source_id", "id").values_list("id", "source_id")
    counts: dict[int, int] = {}
    batch = []
    for pk, source_id in rows.iterator(chunk_size=5000):
        counts[source_id] = counts.get(source_id, 0) + 1
        batch.append(Rec(pk=pk, serial=counts[source_id]))
        if len(batch) == 5000:
            Rec.objects.bulk_update(batch, ["serial"])
            batch = []
    Rec.objects.bulk_update(batch, ["serial"])
    for source_id, count in counts.items():
        Issuance.objects.filter(source_id=source_id).update(rec_count=count)


class Migration(migrations.Migration):
    dependencies = [
        ("recs", "0010_accounts"),
    ]

    operations = [
        migrations.AddField(
            model_name="rec",
            name="serial",
            field=models.BigIntegerField(editable=False, null=True),
        ),
        migrations.AddField(
            model_name="issuance",
            name="rec_count",
            field=models.BigIntegerField(default=0),
        ),
        migrations.RunPython(number_the_recs, migrations.RunPython.noop, elidable=False),
        migrations.AlterField(
            model_name="rec",
            name="serial",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AddConstraint(
            model_name="rec",
            constraint=models.UniqueConstraint(
                fields=("source", "serial"), name="recs_rec_serial_unique_per_source"
            ),
        ),
        migrations.AddConstraint(
            model_name="rec",
            constraint=models.CheckConstraint(
                condition=Q(serial__gte=1), name="recs_rec_serial_positive"
            ),
        ),
        guard(
            "recs_rec",
            ["customer_id", "source_id", "seq", "serial", "value", "created"],
            replace=True,
        ),
    ]
