"""The unique (source, seq) of the daily rows is checked at the end of each statement
on PostgreSQL, so one update can move a source's later rows up or down.

PostgreSQL cannot alter a unique constraint's deferrability, so it is made again
under the same name. The model keeps declaring it as a plain unique constraint:
declared deferrable, Django would create none at all on SQLite, which cannot defer
one and has no use for it (its refresh writes the rows again).
"""

from django.db import migrations

NAME = "energy_dailyaggregate_seq_unique_per_source"


def _remake(deferrable: str):
    def remake(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        schema_editor.execute(
            f"ALTER TABLE energy_dailyaggregate DROP CONSTRAINT {NAME},"
            f" ADD CONSTRAINT {NAME} UNIQUE (source_id, seq) {deferrable}"
        )

    return remake


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0028_sealing_cursor"),
    ]

    operations = [
        migrations.RunPython(_remake("DEFERRABLE INITIALLY IMMEDIATE"), _remake("NOT DEFERRABLE")),
    ]
