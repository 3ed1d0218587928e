from django.apps import AppConfig

# What each issuance table asserts, frozen once written (as energy.apps.APPEND_ONLY).
APPEND_ONLY = {
    "recs_rec": [
        "customer_id", "source_id", "seq", "serial", "value", "leaf_version",
        "production_start", "production_end", "created",
    ],
    "recs_span": ["rec_id", "source_id", "seq_first", "seq_last", "remainder", "created"],
    "recs_remainder": [
        "rec_id", "source_id", "split_from_id", "effective_time", "value", "remainder",
        "external_id", "created",
    ],
    "recs_transfer": ["sender_id", "receiver_id", "quantity", "created"],
    "recs_transferrange": ["transfer_id", "source_id", "first", "last", "quantity"],
    "recs_retirement": [
        "account_id", "statement", "quantity", "beneficiary", "purpose", "country",
        "period_start", "period_end", "created", "wallet", "tx_hash", "log_index",
        "beneficiary_hash", "purpose_hash",
    ],
    "recs_tokenization": ["account_id", "contract", "wallet", "quantity", "tokens", "created"],
    "recs_tokenizationrange": ["tokenization_id", "source_id", "first", "last", "quantity"],
    "recs_redemption": [
        "account_id", "account_named", "wallet", "token_id", "quantity", "tx_hash", "log_index",
        "block_number", "created",
    ],
    "recs_redemptionrange": ["redemption_id", "source_id", "first", "last", "quantity"],
    "recs_retirementrange": ["retirement_id", "source_id", "first", "last", "quantity"],
    "recs_idempotentrequest": [
        "account_id", "key", "fingerprint", "status_code", "body", "created",
    ],
}  # fmt: skip
# What only moves forward (core.ledger_guard.backwards; the PostgreSQL trigger of the
# migrations guards the same).
FORWARD_ONLY = {
    "recs_rec": ["state", "hash", "ledger_block_id", "height"],
    "recs_transfer": ["status", "status_changed"],
    "recs_retirement": ["state", "hash", "ledger_block_id", "height"],
    "recs_tokenization": ["state", "height"],
}
# Held by triggers rather than a foreign key (core.ledger_guard.references, owned_by).
REFERENCES = [
    ("recs_rec", "ledger_block_id", "chain_ledgerblock"),
    ("recs_retirement", "ledger_block_id", "chain_ledgerblock"),
]
OWNED = [
    ("recs_rec", "customer_id", "energy_customer"),
    ("recs_rec", "source_id", "energy_source"),
]


class RecsConfig(AppConfig):
    name = "recs"
    verbose_name = "RECs"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate, pre_migrate

        from chain import leaves, token_events, transactions
        from core.ledger_guard import sqlite_guards
        from energy import certificates
        from energy.services import on_customer_created
        from recs.accounts import account_open
        from recs.ledger import RecLeaves, RetirementLeaves
        from recs.selectors import RecHolder
        from recs.tokenizations import TokenizationMint, token_events_apply

        leaves.register(RecLeaves())
        leaves.register(RetirementLeaves())
        transactions.register(TokenizationMint())
        token_events.follow(token_events_apply)
        on_customer_created(lambda customer: account_open(customer=customer))
        certificates.register(RecHolder())
        lift, guard = sqlite_guards(APPEND_ONLY, FORWARD_ONLY, REFERENCES, OWNED)
        pre_migrate.connect(lift, sender=self, weak=False)
        post_migrate.connect(guard, sender=self, weak=False)
