from django.apps import AppConfig

# What a sealed block asserts never changes, and a block is never deleted: rows
# name their block by triggers, not a foreign key (core.ledger_guard.references).
APPEND_ONLY = {
    "chain_ledgerblock": [
        "id", "ledger_height", "kind", "previous_hash", "root", "hash", "count", "leaves",
        "leaf_ids", "last_leaf_time", "last_leaf_id", "sealed_at",
    ],
}  # fmt: skip


class ChainConfig(AppConfig):
    name = "chain"
    verbose_name = "Chain"

    def ready(self) -> None:
        from django.db.backends.signals import connection_created
        from django.db.models.signals import post_migrate, pre_migrate

        from core.ledger_guard import sqlite_functions, sqlite_guards

        lift, guard = sqlite_guards(APPEND_ONLY)
        pre_migrate.connect(lift, sender=self, weak=False)
        post_migrate.connect(guard, sender=self, weak=False)
        # The SQLite delete guards ask a function of the connection.
        connection_created.connect(sqlite_functions, dispatch_uid="cg_sqlite_functions")
