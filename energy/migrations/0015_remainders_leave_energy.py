"""Remainder transactions leave energy (recs 0007 copied them); a daily row's REC
is an id, not a foreign key into recs.

Every attribution is now metered, so ``kind`` and ``split_from`` go, and the
constraints and indexes that named them are made again without them.
"""

from django.db import migrations, models

from core.ledger_guard import guard, postgres_only

DELETE = "DELETE FROM energy_attribution WHERE kind = 'remainder'"
UNLINK_DAILY = """
DO $$
DECLARE
    name text;
BEGIN
    FOR name IN SELECT conname FROM pg_constraint
                WHERE conrelid = 'energy_dailyaggregate'::regclass AND contype = 'f'
                      AND confrelid = 'recs_rec'::regclass LOOP
        EXECUTE format('ALTER TABLE energy_dailyaggregate DROP CONSTRAINT %%I', name);
    END LOOP;
    FOR name IN SELECT indexname FROM pg_indexes
                WHERE tablename = 'energy_dailyaggregate' AND indexdef LIKE '%%(rec_id)' LOOP
        EXECUTE format('DROP INDEX %%I', name);
    END LOOP;
END $$;
"""


def delete_remainders(apps, schema_editor):
    # History is append-only; this once, its rows move to recs rather than vanish.
    postgres = schema_editor.connection.vendor == "postgresql"
    if postgres:
        schema_editor.execute(
            "ALTER TABLE energy_attribution DISABLE TRIGGER energy_attribution_append_only"
        )
        # Checked now, not at commit: the table is altered next in this transaction.
        schema_editor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    schema_editor.execute(DELETE)
    if postgres:
        schema_editor.execute("SET CONSTRAINTS ALL DEFERRED")
        schema_editor.execute(
            "ALTER TABLE energy_attribution ENABLE TRIGGER energy_attribution_append_only"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("chain", "0004_ledger_height"),
        ("energy", "0014_issuance_state_leaves_energy"),
        ("recs", "0007_spans_and_remainders"),
    ]

    operations = [
        guard(
            "energy_attribution",
            ["source_id", "seq", "external_id", "effective_time", "value", "created"],
            replace=True,
        ),
        # Forward only: going back restores the schema, not the rows (recs 0007 keeps them).
        migrations.RunPython(delete_remainders, migrations.RunPython.noop, elidable=False),
        migrations.RemoveConstraint(
            model_name="attribution",
            name="energy_attribution_one_metered_per_hour",
        ),
        migrations.RemoveConstraint(
            model_name="attribution",
            name="energy_attribution_anchored_when_processed",
        ),
        migrations.RemoveConstraint(
            model_name="attribution",
            name="energy_attribution_kind_consistent",
        ),
        migrations.RemoveConstraint(
            model_name="dailyaggregate",
            name="energy_dailyaggregate_one_unlinked_row",
        ),
        migrations.RemoveConstraint(
            model_name="dailyaggregate",
            name="energy_dailyaggregate_one_row_per_rec",
        ),
        migrations.RemoveIndex(
            model_name="attribution",
            name="energy_attr_to_seal",
        ),
        migrations.RemoveField(
            model_name="attribution",
            name="kind",
        ),
        migrations.RemoveField(
            model_name="attribution",
            name="split_from",
        ),
        # The daily row keeps its REC's id, without a foreign key into recs: energy
        # knows no REC. The column and its values stay as they are.
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveField(model_name="dailyaggregate", name="rec"),
                migrations.AddField(
                    model_name="dailyaggregate",
                    name="rec_id",
                    field=models.BigIntegerField(blank=True, null=True),
                ),
            ],
            database_operations=[postgres_only(UNLINK_DAILY, "SELECT 1")],
        ),
        migrations.AlterField(
            model_name="attribution",
            name="seq",
            field=models.BigIntegerField(editable=False),
        ),
        migrations.AddIndex(
            model_name="attribution",
            index=models.Index(
                condition=models.Q(("ledger_block__isnull", True), ("value__gte", 0)),
                fields=["effective_time", "id"],
                include=("source", "external_id", "value"),
                name="energy_attr_to_seal",
            ),
        ),
        migrations.AddConstraint(
            model_name="attribution",
            constraint=models.UniqueConstraint(
                fields=("source", "effective_time"), name="energy_attribution_one_per_hour"
            ),
        ),
        migrations.AddConstraint(
            model_name="attribution",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("seq__gte", 1),
                    models.Q(
                        ("block_id__isnull", True),
                        models.Q(("block_id", "remainder"), _negated=True),
                        _connector="OR",
                    ),
                ),
                name="energy_attribution_metered",
            ),
        ),
        migrations.AddConstraint(
            model_name="attribution",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("state", "New"),
                    models.Q(("hash__isnull", False), ("state", "Pending")),
                    models.Q(
                        ("block_id__isnull", False),
                        ("hash__isnull", False),
                        ("height__isnull", False),
                        ("state", "Processed"),
                    ),
                    _connector="OR",
                ),
                name="energy_attribution_anchored_when_processed",
            ),
        ),
        migrations.AddConstraint(
            model_name="dailyaggregate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("rec_id__isnull", True)),
                fields=("source", "day", "state"),
                name="energy_dailyaggregate_one_unlinked_row",
            ),
        ),
        migrations.AddConstraint(
            model_name="dailyaggregate",
            constraint=models.UniqueConstraint(
                condition=models.Q(("rec_id__isnull", False)),
                fields=("source", "day", "state", "rec_id"),
                name="energy_dailyaggregate_one_row_per_rec",
            ),
        ),
    ]
