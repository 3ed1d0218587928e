from django.db import migrations

from chain.apps import APPEND_ONLY
from core.ledger_guard import guard


class Migration(migrations.Migration):
    """A sealed block is never deleted and what it asserts never changes: the rows
    that name it (attributions, RECs, retirements) may then check their block once
    per statement instead of holding a foreign key (core.ledger_guard.references)."""

    dependencies = [
        ("chain", "0006_engine_transactions"),
    ]

    operations = [
        guard("chain_ledgerblock", APPEND_ONLY["chain_ledgerblock"]),
    ]
