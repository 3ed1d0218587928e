"""A span never holds a quarantined or rejected hour (energy 0016): the statement
check of migration 0007 refuses them too."""

from importlib import import_module

from django.db import migrations

from core.ledger_guard import postgres_only

_0007 = import_module("recs.migrations.0007_spans_and_remainders")
_BEFORE = _0007.CHECK[: _0007.CHECK.index("CREATE TRIGGER recs_span_valid")]
_NOT_PROCESSED = "    WHERE a.state <> 'Processed'\n"
assert _NOT_PROCESSED in _BEFORE
CHECK = (
    _BEFORE.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")
    .replace(
        _NOT_PROCESSED,
        "    WHERE a.state <> 'Processed' OR a.quality IN ('quarantined', 'rejected')\n",
    )
    .replace("it is not Processed", "it is not Processed, or not plausible")
)
UNCHECK = _BEFORE.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION")


class Migration(migrations.Migration):
    dependencies = [
        ("energy", "0016_attribution_quality"),
        ("recs", "0007_spans_and_remainders"),
    ]

    operations = [postgres_only(CHECK, UNCHECK)]
