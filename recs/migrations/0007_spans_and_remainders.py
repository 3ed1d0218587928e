"""REC membership as spans of the source's transaction sequence; remainders as
issuance's own rows.

Each REC's links (one row per transaction) become spans: runs of its metered
transactions, consecutive among the source's transactions of positive value
(rows of zero or negative value between them are in no REC, and stay so). The
remainder transactions energy stored as attributions (``kind`` remainder) are
copied here under their ids; energy 0015 then deletes them there.
"""

import django.db.models.deletion
from django.db import migrations, models

from core.ledger_guard import guard, postgres_only

# Every statement that inserts spans or remainders is checked as a whole, after it
# ran, over its new rows (the transition table): foreign keys would look up and
# lock the referenced rows one by one at commit, slower than issuance itself.
CHECK = """
CREATE FUNCTION recs_span_valid() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.rec_id, n.source_id INTO bad
    FROM new_spans n LEFT JOIN recs_rec r ON r.id = n.rec_id
    LEFT JOIN energy_attribution f ON f.source_id = n.source_id AND f.seq = n.seq_first
    LEFT JOIN energy_attribution l ON l.source_id = n.source_id AND l.seq = n.seq_last
    WHERE r.id IS NULL OR r.source_id <> n.source_id OR f.id IS NULL OR l.id IS NULL
       OR f.value <= 0 OR l.value <= 0 OR n.remainder >= l.value
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'recs_span: a span of source %% cannot be in REC %%: the REC must '
            'exist and be of that source, the span must begin and end at transactions of '
            'positive value, and its remainder be less than the last one''s value',
            bad.source_id, bad.rec_id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT n.rec_id, a.id INTO bad
    FROM new_spans n JOIN energy_attribution a ON a.source_id = n.source_id
         AND a.seq BETWEEN n.seq_first AND n.seq_last AND a.value > 0
    WHERE a.state <> 'Processed'
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'recs_span: REC %% cannot hold transaction %%: it is not Processed',
            bad.rec_id, bad.id USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    -- Spans of one source never overlap: the new ones among themselves and with the
    -- stored ones ending where the lowest new one of the source begins, or later.
    WITH low AS (SELECT source_id, min(seq_first) AS seq FROM new_spans GROUP BY source_id),
    ordered AS (
        SELECT sp.rec_id, sp.source_id, sp.seq_first,
               lag(sp.seq_last) OVER w AS previous_last, lag(sp.rec_id) OVER w AS previous_rec
        FROM low JOIN recs_span sp ON sp.source_id = low.source_id AND sp.seq_last >= low.seq
        WINDOW w AS (PARTITION BY sp.source_id ORDER BY sp.seq_first, sp.seq_last)
    )
    SELECT * INTO bad FROM ordered WHERE previous_last >= seq_first LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'recs_span: RECs %% and %% would both hold seq %% of source %%',
            bad.previous_rec, bad.rec_id, bad.seq_first, bad.source_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER recs_span_valid AFTER INSERT ON recs_span
    REFERENCING NEW TABLE AS new_spans FOR EACH STATEMENT EXECUTE FUNCTION recs_span_valid();

CREATE FUNCTION recs_remainder_valid() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.id, n.rec_id, n.split_from_id INTO bad
    FROM new_remainders n LEFT JOIN recs_rec r ON r.id = n.rec_id
    LEFT JOIN energy_attribution a ON a.id = n.split_from_id
    WHERE r.id IS NULL OR a.id IS NULL OR r.source_id <> n.source_id
       OR a.source_id <> n.source_id OR a.state <> 'Processed' OR a.value < n.value
    LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'recs_remainder: REC %% cannot open with energy of transaction %%: '
            'both must exist and belong to one source, and the transaction be Processed '
            'generation of at least that value', bad.rec_id, bad.split_from_id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER recs_remainder_valid AFTER INSERT ON recs_remainder
    REFERENCING NEW TABLE AS new_remainders FOR EACH STATEMENT
    EXECUTE FUNCTION recs_remainder_valid();
"""
UNCHECK = """
DROP TRIGGER recs_span_valid ON recs_span; DROP FUNCTION recs_span_valid();
DROP TRIGGER recs_remainder_valid ON recs_remainder; DROP FUNCTION recs_remainder_valid();
"""

# A REC's links as runs: ``pos`` numbers the source's positive transactions; the
# links of one REC with consecutive ``pos`` differ from their rank in the REC by
# the same amount, and form one span.
SPANS = """
INSERT INTO recs_span (rec_id, source_id, seq_first, seq_last, remainder, created)
SELECT rec_id, source_id, min(seq), max(seq), sum(remainder), min(created)
FROM (
    SELECT l.rec_id, p.source_id, p.seq, l.remainder, l.created,
           p.pos - row_number() OVER (PARTITION BY l.rec_id ORDER BY p.seq) AS island
    FROM recs_link l JOIN (
        SELECT id, source_id, seq,
               row_number() OVER (PARTITION BY source_id ORDER BY seq) AS pos
        FROM energy_attribution WHERE kind = 'metered' AND value > 0
    ) AS p ON p.id = l.attribution_id
) AS m
GROUP BY rec_id, source_id, island
ORDER BY rec_id, min(seq)
"""
REMAINDERS = """
INSERT INTO recs_remainder (id, rec_id, source_id, split_from_id, effective_time, value,
                            remainder, external_id, created)
SELECT a.id, l.rec_id, a.source_id, a.split_from_id, a.effective_time, a.value, l.remainder,
       a.external_id, a.created
FROM energy_attribution a JOIN recs_link l ON l.attribution_id = a.id
WHERE a.kind = 'remainder'
ORDER BY a.id
"""
# New remainders are numbered after the copied ones.
RENUMBER = """
SELECT setval(pg_get_serial_sequence('recs_remainder', 'id'),
              coalesce((SELECT max(id) FROM recs_remainder), 0) + 1, false)
"""
DROP_LINK_CHECKS = """
DROP TRIGGER IF EXISTS recs_link_valid ON recs_link;
DROP FUNCTION IF EXISTS recs_link_valid();
DROP TRIGGER IF EXISTS recs_link_append_only ON recs_link;
DROP FUNCTION IF EXISTS recs_link_append_only();
"""


def copy(apps, schema_editor):
    schema_editor.execute(SPANS)
    schema_editor.execute(REMAINDERS)
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(RENUMBER)


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0014_issuance_state_leaves_energy"),
        ("recs", "0006_issuance_state_leaves_energy"),
    ]

    operations = [
        migrations.CreateModel(
            name="Remainder",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("effective_time", models.DateTimeField()),
                ("value", models.BigIntegerField(help_text="mWh")),
                (
                    "remainder",
                    models.BigIntegerField(default=0, help_text="mWh carried to the next REC"),
                ),
                ("external_id", models.CharField(max_length=128)),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "rec",
                    models.OneToOneField(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="opener",
                        to="recs.rec",
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="energy.source",
                    ),
                ),
                (
                    "split_from",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="energy.attribution",
                    ),
                ),
            ],
        ),
        migrations.CreateModel(
            name="Span",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("seq_first", models.BigIntegerField()),
                ("seq_last", models.BigIntegerField()),
                (
                    "remainder",
                    models.BigIntegerField(default=0, help_text="mWh carried to the next REC"),
                ),
                ("created", models.DateTimeField(auto_now_add=True)),
                (
                    "rec",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="spans",
                        to="recs.rec",
                    ),
                ),
                (
                    "source",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="energy.source",
                    ),
                ),
            ],
        ),
        migrations.AddConstraint(
            model_name="remainder",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("remainder__gte", 0), ("remainder__lt", models.F("value")), ("value__gt", 0)
                ),
                name="recs_remainder_value_positive_remainder_below",
            ),
        ),
        migrations.AddIndex(
            model_name="span",
            index=models.Index(fields=["rec"], name="recs_span_rec"),
        ),
        migrations.AddIndex(
            model_name="span",
            index=models.Index(fields=["source", "seq_last"], name="recs_span_source_seq_last"),
        ),
        migrations.AddConstraint(
            model_name="span",
            constraint=models.CheckConstraint(
                condition=models.Q(("seq_first__gte", 1), ("seq_last__gte", models.F("seq_first"))),
                name="recs_span_seq_run",
            ),
        ),
        migrations.AddConstraint(
            model_name="span",
            constraint=models.CheckConstraint(
                condition=models.Q(("remainder__gte", 0)), name="recs_span_remainder_gte_0"
            ),
        ),
        postgres_only(CHECK, UNCHECK),
        # Forward only: going back restores the schema of links, not their rows.
        migrations.RunPython(copy, migrations.RunPython.noop, elidable=False),
        postgres_only(DROP_LINK_CHECKS, "SELECT 1"),  # going back: links unchecked
        migrations.DeleteModel(name="Link"),
        guard(
            "recs_span", ["rec_id", "source_id", "seq_first", "seq_last", "remainder", "created"]
        ),
        guard(
            "recs_remainder",
            [
                "rec_id",
                "source_id",
                "split_from_id",
                "effective_time",
                "value",
                "remainder",
                "external_id",
                "created",
            ],
        ),
    ]
