from django.apps import AppConfig

# What each ledger table asserts, frozen once written (on PostgreSQL the migrations'
# triggers guard the same columns).
APPEND_ONLY = {
    "energy_attribution": [
        "source_id", "seq", "external_id", "effective_time", "value", "carbon_offset",
        "evidence", "created",
    ],
    "energy_reading": ["source_id", "report_id", "sample_time", "power", "energy"],
    "energy_report": [
        "source_id", "method", "received", "request_id", "signature", "signed", "digest",
        "samples",
    ],
}  # fmt: skip
# What only moves forward (core.ledger_guard.backwards; the PostgreSQL trigger of the
# migrations guards the same).
FORWARD_ONLY = {
    "energy_attribution": ["state", "hash", "ledger_block_id", "height", "block_id", "quality"]
}
# Held by triggers rather than a foreign key (core.ledger_guard.references, owned_by).
REFERENCES = [("energy_attribution", "ledger_block_id", "chain_ledgerblock")]
OWNED = [("energy_dailyaggregate", "source_id", "energy_source")]


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from chain import leaves
        from core.ledger_guard import sqlite_functions, sqlite_guards
        from energy.ledger import AttributionLeaves

        leaves.register(AttributionLeaves())
        lift, guard = sqlite_guards(APPEND_ONLY, FORWARD_ONLY, REFERENCES, OWNED)
        pre_migrate.connect(lift, sender=self, weak=False)
        post_migrate.connect(guard, sender=self, weak=False)
        # The SQLite delete guards (of recs' tables too) ask a function of the connection.
        connection_created.connect(sqlite_functions, dispatch_uid="cg_sqlite_functions")
