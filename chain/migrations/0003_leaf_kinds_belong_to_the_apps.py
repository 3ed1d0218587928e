from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("chain", "0002_ledgerblock_kind_and_more")]

    operations = [
        migrations.AlterField(
            model_name="ledgerblock", name="kind", field=models.CharField(max_length=32)
        ),
        migrations.RenameField(
            model_name="ledgerblock", old_name="last_attribution_id", new_name="last_leaf_id"
        ),
        migrations.RenameField(
            model_name="ledgerblock", old_name="last_effective_time", new_name="last_leaf_time"
        ),
    ]
