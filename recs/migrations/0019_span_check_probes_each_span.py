"""The statement check of the spans reads each new span's transactions through the
(source, seq) index. Written as a join, the planner scanned the whole attribution
table once per statement (a parallel scan of 10M rows for the 37,000 spans of 250
sources), so issuing a ledger ten times larger cost thirty times more in this
check alone."""

from importlib import import_module

from django.db import migrations

from core.ledger_guard import postgres_only

_0008 = import_module("recs.migrations.0008_spans_hold_plausible_hours_only")
_JOINED = """    FROM new_spans n JOIN energy_attribution a ON a.source_id = n.source_id
         AND a.seq BETWEEN n.seq_first AND n.seq_last AND a.value > 0
    WHERE a.state <> 'Processed' OR a.quality IN ('quarantined', 'rejected')
    LIMIT 1;
"""
# OFFSET 0 keeps the subquery a probe per span (it is not flattened into a join).
_PROBED = """    FROM new_spans n CROSS JOIN LATERAL (
        SELECT a.id FROM energy_attribution a
        WHERE a.source_id = n.source_id AND a.seq BETWEEN n.seq_first AND n.seq_last
          AND a.value > 0
          AND (a.state <> 'Processed' OR a.quality IN ('quarantined', 'rejected'))
        OFFSET 0
    ) AS a
    LIMIT 1;
"""
assert _JOINED in _0008.CHECK
CHECK = _0008.CHECK.replace(_JOINED, _PROBED)


class Migration(migrations.Migration):
    dependencies = [
        ("recs", "0018_rec_owners_checked_per_statement"),
    ]

    operations = [postgres_only(CHECK, _0008.CHECK)]
