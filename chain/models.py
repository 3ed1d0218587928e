"""Ledger blocks: Merkle-rooted batches of ledger rows, each anchored on chain."""

from django.db import models
from django.db.models import Q

HEX32 = r"^[0-9a-f]{64}$"


class LedgerBlock(models.Model):
    """A sealed batch of leaves of one kind, chained to the block before it.

    Status moves forward: sealed (root fixed) -> signed (a transaction with a
    nonce prepared, not yet accepted by a node) -> sent (accepted; its rows are
    Pending) -> confirmed (its receipt has the confirmations; rows Processed).
    A fault sends it back to signed, to be sent again with the same nonce.
    """

    class Status(models.TextChoices):
        SEALED = "sealed"
        SIGNED = "signed"
        SENT = "sent"
        CONFIRMED = "confirmed"

    # Its position in the ledger's hash chain, from 1: what the Anchor contract calls
    # its height. (A row's ``height`` on the wire is the chain block number.)
    ledger_height = models.BigIntegerField(unique=True)
    # Which registered kind of leaf (``chain.leaves``) it holds, e.g. the energy
    # app's "attributions": the ids in ``leaf_ids`` are rows of that kind.
    kind = models.CharField(max_length=32)
    previous_hash = models.CharField(max_length=64)
    root = models.CharField(max_length=64)
    hash = models.CharField(max_length=64, unique=True)
    count = models.IntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SEALED)
    # The leaves in tree order, and the id of the row each one hashes: 32 and
    # 8 bytes apiece. Sealing and sending write nothing to the rows themselves;
    # the confirmation pass gives them their hash and block, with their move to
    # Processed if the block is final by then (one write), else to Pending.
    leaves = models.BinaryField()
    leaf_ids = models.BinaryField()
    # Where the next block of its kind starts while this one's rows are not marked.
    last_leaf_time = models.DateTimeField(null=True, blank=True)
    last_leaf_id = models.BigIntegerField(help_text="id of the last leaf's row")
    # Whether the rows have their hash and block (Pending or Processed); until
    # then they are New, whatever the block's status.
    rows_marked = models.BooleanField(default=False)

    chain_id = models.BigIntegerField(null=True, blank=True)
    contract_address = models.CharField(max_length=42, blank=True)
    nonce = models.BigIntegerField(null=True, blank=True)
    raw_tx = models.TextField(blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    chain_block_number = models.BigIntegerField(null=True, blank=True)
    chain_block_hash = models.CharField(max_length=64, blank=True)

    sealed_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["ledger_height"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ledger_height__gt=0, count__gt=0),
                name="%(app_label)s_%(class)s_positive",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["sealed", "signed", "sent", "confirmed"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(root__regex=HEX32, hash__regex=HEX32, previous_hash__regex=HEX32),
                name="%(app_label)s_%(class)s_hashes_hex",
            ),
            models.CheckConstraint(
                condition=Q(status="sealed")
                | Q(nonce__isnull=False, chain_id__isnull=False) & ~Q(tx_hash=""),
                name="%(app_label)s_%(class)s_signed_has_a_transaction",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed")
                | Q(chain_block_number__isnull=False) & ~Q(chain_block_hash=""),
                name="%(app_label)s_%(class)s_confirmed_has_a_chain_block",
            ),
        ]
        indexes = [
            # Serves the sender, the confirmer and the sealer's cursor: unfinished blocks.
            models.Index(
                fields=["status", "ledger_height"],
                name="chain_block_unfinished",
                condition=~Q(status="confirmed"),
            ),
        ]

    def __str__(self) -> str:
        return f"block {self.ledger_height} ({self.status})"

    def leaf_ids_list(self) -> list[int]:
        """The ids of the rows it seals, in tree order."""
        ids = bytes(self.leaf_ids)
        return [int.from_bytes(ids[i : i + 8], "big") for i in range(0, 8 * self.count, 8)]

    def leaf_list(self) -> list[tuple[int, bytes]]:
        """(row id, leaf) in tree order."""
        leaves = bytes(self.leaves)
        return [(pk, leaves[32 * i : 32 * i + 32]) for i, pk in enumerate(self.leaf_ids_list())]


class Deployment(models.Model):
    """A contract the engine deployed by itself on a local chain (Anchor, RecToken),
    remembered per chain; production names its addresses in the settings."""

    contract = models.CharField(max_length=32, default="Anchor")
    chain_id = models.BigIntegerField()
    address = models.CharField(max_length=42)
    deployed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contract", "chain_id"], name="%(app_label)s_%(class)s_once_per_chain"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract} at {self.address} on chain {self.chain_id}"


class EngineTransaction(models.Model):
    """A contract call the engine signs and sends for an app (a mint of RECs as
    tokens), other than a block's anchoring: ``chain.transactions``.

    Status moves forward: queued (the app's call, no nonce yet) -> signed (a
    transaction with a nonce from the sequence anchoring shares) -> sent (the node
    has it) -> confirmed (its receipt is ``CHAIN_CONFIRMATIONS`` deep), or failed
    (the node says the call reverts, or its reverted receipt is that deep). A fault
    sends it back to signed, to be sent again with the same nonce; a nonce taken by
    another transaction sends it back to queued.
    """

    class Status(models.TextChoices):
        QUEUED = "queued"
        SIGNED = "signed"
        SENT = "sent"
        CONFIRMED = "confirmed"
        FAILED = "failed"

    # Which registered purpose (``chain.transactions.register``) it serves, and the
    # id of the app's row it serves: what is told when it moves.
    purpose = models.CharField(max_length=32)
    owner_id = models.BigIntegerField()
    to = models.CharField(max_length=42)
    data = models.TextField(help_text="the call's input, 0x hex")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)

    chain_id = models.BigIntegerField(null=True, blank=True)
    nonce = models.BigIntegerField(null=True, blank=True)
    gas = models.BigIntegerField(null=True, blank=True)
    raw_tx = models.TextField(blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    attempts = models.IntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    chain_block_number = models.BigIntegerField(null=True, blank=True)
    chain_block_hash = models.CharField(max_length=64, blank=True)
    gas_used = models.BigIntegerField(null=True, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=["queued", "signed", "sent", "confirmed", "failed"]),
                name="%(app_label)s_%(class)s_status_valid",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "failed"])
                | Q(nonce__isnull=False, chain_id__isnull=False) & ~Q(tx_hash=""),
                name="%(app_label)s_%(class)s_signed_has_a_transaction",
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed")
                | Q(chain_block_number__isnull=False) & ~Q(chain_block_hash=""),
                name="%(app_label)s_%(class)s_confirmed_has_a_chain_block",
            ),
            # One nonce, one transaction (anchoring's blocks share the sequence; the
            # "sign" lock keeps the two apart).
            models.UniqueConstraint(
                fields=["chain_id", "nonce"],
                condition=Q(nonce__isnull=False),
                name="%(app_label)s_%(class)s_nonce_once",
            ),
        ]
        indexes = [
            # Serves the sender and the confirmer: unfinished transactions in order.
            models.Index(
                fields=["status", "id"],
                name="chain_enginetx_unfinished",
                condition=Q(status__in=["queued", "signed", "sent"]),
            ),
            # Serves an app's look-up of the transactions of one of its rows.
            models.Index(fields=["purpose", "owner_id"], name="chain_enginetx_owner"),
        ]

    def __str__(self) -> str:
        return f"{self.purpose} {self.owner_id} ({self.status})"


class TokenEvent(models.Model):
    """An event of the RecToken contract (chain/contracts/RecToken.sol) from a block the
    indexer holds for final (``CHAIN_CONFIRMATIONS`` deep): a transfer between wallets
    (a mint from, or a burn to, the zero address), a retirement with its claim, or a
    redemption naming an account (``claim["account"]``).

    Written only by ``chain.token_events``; rows of blocks a reorg took out are
    removed with their block, never edited.
    """

    class Kind(models.TextChoices):
        TRANSFER = "transfer"
        RETIRED = "retired"
        REDEEMED = "redeemed"

    chain_id = models.BigIntegerField()
    block_number = models.BigIntegerField()
    block_hash = models.CharField(max_length=64)
    tx_hash = models.CharField(max_length=66)
    log_index = models.IntegerField()
    # Its place among the ids of a TransferBatch (0 for the other events).
    position = models.IntegerField(default=0)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    sender = models.CharField(max_length=42)
    receiver = models.CharField(max_length=42, blank=True)
    token_id = models.DecimalField(max_digits=78, decimal_places=0)
    amount = models.DecimalField(max_digits=78, decimal_places=0)
    claim = models.JSONField(default=dict, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves "what happened to a token id" in chain order.
            models.Index(fields=["token_id", "block_number"], name="chain_tokenevent_token"),
            # Serves the rollback of a reorg: the events of the blocks from a height on.
            models.Index(fields=["chain_id", "block_number"], name="chain_tokenevent_block"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "tx_hash", "log_index", "position"],
                name="%(app_label)s_%(class)s_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.amount} x {self.token_id} in block {self.block_number}"


class TokenCursor(models.Model):
    """Where the indexer of a token contract stands: the last block it indexed."""

    chain_id = models.BigIntegerField()
    contract_address = models.CharField(max_length=42)
    last_block = models.BigIntegerField(default=-1)
    last_block_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["chain_id", "contract_address"], name="%(app_label)s_%(class)s_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contract_address} on chain {self.chain_id} to block {self.last_block}"
