"""Renewable energy certificates: exactly 1 MWh of processed generation each."""

from django.db import models
from django.db.models import F, Q

from core.units import REC_VALUE
from energy.models import SHA256_HEX, STATES, State

# The spec's block_id of the transaction that carries energy into the next REC.
REMAINDER_BLOCK_ID = "remainder"


class Rec(models.Model):
    # No index of their own: the unique (customer, seq) and (source, serial) lead with
    # them and serve every lookup by customer or source; issuance writes 150 RECs a
    # source, and each index is written for each. Checked per statement by triggers,
    # not per row by a foreign key: see core.ledger_guard.owned_by.
    customer = models.ForeignKey(
        "energy.Customer",
        on_delete=models.PROTECT,
        related_name="recs",
        db_index=False,
        db_constraint=False,
    )
    source = models.ForeignKey(
        "energy.Source",
        on_delete=models.PROTECT,
        related_name="recs",
        db_index=False,
        db_constraint=False,
    )
    # 1-based position among the customer's RECs in issuance order: a page of
    # /recs is a range of it.
    seq = models.BigIntegerField(editable=False)
    # 1-based position among its source's RECs in issuance order: its serial number
    # is "<source id>-<serial>", and a bundle is a run of serials of one source.
    serial = models.BigIntegerField(editable=False)
    value = models.BigIntegerField(default=REC_VALUE, editable=False, help_text="mWh")
    # How its leaf is hashed (chain.hashing.rec_leaf): 2 commits to its serial; 1, the
    # RECs issued before that, does not.
    leaf_version = models.PositiveSmallIntegerField(default=2, db_default=2, editable=False)
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed = models.DateTimeField(null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)
    height = models.BigIntegerField(null=True, blank=True)
    # The first and last hour whose energy is in the REC: what a retirement's vintage
    # rule reads, a range of serials at a time, without opening the REC's spans.
    production_start = models.DateTimeField(editable=False)
    production_end = models.DateTimeField(editable=False)
    # The ledger block whose Merkle tree holds this REC's hash.
    ledger_block = models.ForeignKey(
        "chain.LedgerBlock",
        on_delete=models.PROTECT,
        # Checked per statement by triggers, not per row by a foreign key: see
        # core.ledger_guard.references.
        db_constraint=False,
        null=True,
        blank=True,
        related_name="recs",
        db_index=False,
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "REC"
        indexes = [
            # Serves sealing: the oldest unsealed RECs first.
            models.Index(fields=["id"], name="recs_rec_to_seal", condition=Q(ledger_block=None)),
            # Serves the state moves of a block: its RECs.
            models.Index(
                fields=["ledger_block"],
                name="recs_rec_block",
                condition=Q(ledger_block__isnull=False),
            ),
        ]
        constraints = [
            # Serves /recs: a page is a range of seq.
            models.UniqueConstraint(
                fields=["customer", "seq"], name="%(app_label)s_%(class)s_seq_unique_per_customer"
            ),
            # Serves a bundle's RECs (a range of serials) and a serial's REC.
            models.UniqueConstraint(
                fields=["source", "serial"], name="%(app_label)s_%(class)s_serial_unique_per_source"
            ),
            models.CheckConstraint(
                condition=Q(serial__gte=1), name="%(app_label)s_%(class)s_serial_positive"
            ),
            models.CheckConstraint(
                condition=Q(value=REC_VALUE), name="%(app_label)s_%(class)s_value_is_one_mwh"
            ),
            models.CheckConstraint(
                condition=Q(seq__gt=0), name="%(app_label)s_%(class)s_seq_positive"
            ),
            models.CheckConstraint(
                condition=Q(production_end__gte=F("production_start")),
                name="%(app_label)s_%(class)s_production_in_order",
            ),
            models.CheckConstraint(
                condition=Q(state__in=STATES), name="%(app_label)s_%(class)s_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(hash__isnull=True) | Q(hash__regex=SHA256_HEX),
                name="%(app_label)s_%(class)s_hash_hex",
            ),
            models.CheckConstraint(
                condition=Q(state="New")
                | Q(state="Pending", hash__isnull=False)
                | Q(state="Processed", hash__isnull=False, height__isnull=False),
                name="%(app_label)s_%(class)s_anchored_when_processed",
            ),
        ]

    def __str__(self) -> str:
        return f"REC {self.id}"

    @property
    def serial_number(self) -> str:
        return f"{self.source_id}-{self.serial}"


class Span(models.Model):
    """A run of the source's transaction sequence in one REC: its metered transactions
    of positive value with ``seq_first <= seq <= seq_last``.

    Issuance cuts a source's energy in seq order, so a REC's transactions are
    one run of the sequence, save where an hour became Processed late: the RECs
    cut meanwhile skip it, and their runs are split around it. Rows of zero or
    negative value inside a run are in no REC. The last transaction of the REC's
    last span keeps ``remainder`` mWh for the next REC (its opening
    ``Remainder``). Written once by issuance, never changed; the database
    checks each inserting statement as a whole (migration 0007): spans of one
    source never overlap, belong to their REC's source, and cover Processed
    generation only.
    """

    # Checked by the statement trigger (migration 0007), not per row at commit.
    rec = models.ForeignKey(
        Rec, on_delete=models.PROTECT, related_name="spans", db_index=False, db_constraint=False
    )
    source = models.ForeignKey(
        "energy.Source",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    seq_first = models.BigIntegerField()
    seq_last = models.BigIntegerField()
    remainder = models.BigIntegerField(default=0, help_text="mWh carried to the next REC")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves the transactions of a REC (/recs/{id}, its hash, the audit).
            models.Index(fields=["rec"], name="recs_span_rec"),
            # Serves "which span holds seq s": the first span of the source ending at
            # or after s; and the cut, which reads the spans ending past its start.
            models.Index(fields=["source", "seq_last"], name="recs_span_source_seq_last"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(seq_first__gte=1, seq_last__gte=F("seq_first")),
                name="%(app_label)s_%(class)s_seq_run",
            ),
            models.CheckConstraint(
                condition=Q(remainder__gte=0), name="%(app_label)s_%(class)s_remainder_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"seq {self.seq_first}..{self.seq_last} of {self.source_id} in REC {self.rec_id}"


class Remainder(models.Model):
    """The energy a REC opens with, split off the transaction that crossed into it: the
    spec's "remainder" transaction (``block_id`` "remainder"), issuance's own row.

    ``remainder`` is what it passes on when it fills its REC alone (a transaction
    of several MWh). Its id is its own, not an attribution's: on the wire it is
    told apart by its ``block_id``.
    """

    kind = "remainder"
    block_id = REMAINDER_BLOCK_ID
    state = State.PROCESSED
    hash = height = carbon_offset = state_changed = plausibility = None

    # Checked by the statement trigger (migration 0007), not per row at commit.
    rec = models.OneToOneField(
        Rec, on_delete=models.PROTECT, related_name="opener", db_constraint=False
    )
    source = models.ForeignKey(
        "energy.Source",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    split_from = models.ForeignKey(
        "energy.Attribution",
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    # The split transaction's hour, kept here so a REC's transactions read in one pass.
    effective_time = models.DateTimeField()
    value = models.BigIntegerField(help_text="mWh")
    remainder = models.BigIntegerField(default=0, help_text="mWh carried to the next REC")
    external_id = models.CharField(max_length=128)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(value__gt=0, remainder__gte=0, remainder__lt=F("value")),
                name="%(app_label)s_%(class)s_value_positive_remainder_below",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.value} mWh of {self.split_from_id} opening REC {self.rec_id}"

    @property
    def modified(self):
        return self.created

    last_modified = modified

    @property
    def remainder_if_any(self) -> int | None:
        return self.remainder or None


class Issuance(models.Model):
    """Where issuance stands for one source. Issuance's own row, so a cut locks it and
    not the source row that ingestion locks.

    Metered attributions below ``seq_from`` are settled (in a REC, or never
    issuable): each cut reads the source's rows from there on only, through the
    (source, seq) index, and moves it to the first row still open. ``carry`` is
    the energy split off ``carry_from`` that opens the source's next REC.
    """

    source = models.OneToOneField(
        "energy.Source", on_delete=models.PROTECT, primary_key=True, related_name="issuance"
    )
    seq_from = models.BigIntegerField(default=1)
    carry = models.BigIntegerField(default=0, help_text="mWh")
    carry_from = models.ForeignKey(
        "energy.Attribution", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The source's RECs so far: the last serial given.
    rec_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(carry=0, carry_from__isnull=True)
                | Q(carry__gt=0, carry__lt=REC_VALUE, carry_from__isnull=False),
                name="%(app_label)s_%(class)s_carry_below_one_mwh",
            ),
            models.CheckConstraint(
                condition=Q(seq_from__gte=1), name="%(app_label)s_%(class)s_seq_from_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"issuance of {self.source_id} from seq {self.seq_from}"


class Numbering(models.Model):
    """The customer's REC count: the last ``Rec.seq`` given, issuance's own row."""

    customer = models.OneToOneField(
        "energy.Customer", on_delete=models.PROTECT, primary_key=True, related_name="rec_numbering"
    )
    rec_count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(rec_count__gte=0), name="%(app_label)s_%(class)s_rec_count_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.rec_count} RECs of {self.customer_id}"


ACCOUNT_CODE = r"^CGA(-[2-9A-HJKMNP-TV-Z]{4}){3}$"
ADDRESS = r"^0x[0-9a-fA-F]{40}$"
TX_HASH = r"^0x[0-9a-f]{64}$"


class Account(models.Model):
    """A customer's account: what holds its RECs. One per customer; its public code is
    what a buyer tells a seller, like a bank account number (unguessable, shareable).
    """

    customer = models.OneToOneField(
        "energy.Customer", on_delete=models.PROTECT, related_name="account"
    )
    code = models.CharField(max_length=18, unique=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(code__regex=ACCOUNT_CODE), name="%(app_label)s_%(class)s_code_format"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.customer})"


class Bundle(models.Model):
    """A run of consecutive serials of one source, held by one account in one status.

    What an account holds is its bundles: issuance adds to the issuer's (a new
    bundle, or the end of its last one when the serials follow on), and moving
    part of a bundle splits it, so work follows the bundles touched, not the RECs.
    Every REC issued is in exactly one bundle: bundles of a source never overlap
    (PostgreSQL: an exclusion constraint, migration 0012) and cover its serials
    1..``Issuance.rec_count`` (``verify_ledger`` recomputes it).
    """

    class Status(models.TextChoices):
        ACTIVE = "active"
        IN_TRANSFER = "in_transfer"
        RETIRED = "retired"
        # Tokenized: waiting for the mint to be final, then held as tokens on chain
        # (by whichever wallet holds them now; the account is the one that sent them).
        MINTING = "minting"
        ON_CHAIN = "on_chain"

    # No index of its own: "holdings" (account, source, first) leads with it.
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="bundles", db_index=False
    )
    source = models.ForeignKey(
        "energy.Source", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    first = models.BigIntegerField()
    last = models.BigIntegerField()
    quantity = models.BigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    # The pending transfer an ``in_transfer`` bundle waits in: what its receiver's
    # answer or its sender's recall moves.
    transfer = models.ForeignKey(
        "Transfer", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Serves /holdings: an account's bundles in source and serial order.
            models.Index(fields=["account", "source", "first"], name="recs_bundle_holdings"),
            # Serves the status of a REC: the bundle of a source ending at or past a serial.
            models.Index(fields=["source", "last"], name="recs_bundle_source_last"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(first__gte=1, last__gte=F("first"))
                & Q(quantity=F("last") - F("first") + 1),
                name="%(app_label)s_%(class)s_quantity_is_its_range",
            ),
            models.CheckConstraint(
                condition=Q(
                    status__in=["active", "retired", "minting", "on_chain"],
                    transfer__isnull=True,
                )
                | Q(status="in_transfer", transfer__isnull=False),
                name="%(app_label)s_%(class)s_in_transfer_has_its_transfer",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}-{self.first}..{self.source_id}-{self.last} ({self.status})"


class _Range(models.Model):
    """A run of serials of one source moved by a transfer or a retirement: history,
    written once with its owner and never changed (PostgreSQL and SQLite triggers)."""

    source = models.ForeignKey(
        "energy.Source", on_delete=models.PROTECT, related_name="+", db_index=False
    )
    first = models.BigIntegerField()
    last = models.BigIntegerField()
    quantity = models.BigIntegerField()

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(first__gte=1, last__gte=F("first"))
                & Q(quantity=F("last") - F("first") + 1),
                name="%(app_label)s_%(class)s_quantity_is_its_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id}-{self.first}..{self.source_id}-{self.last}"


class Transfer(models.Model):
    """RECs sent from one account to another, waiting for the receiver: ``pending``, then
    ``completed`` (accepted), ``rejected`` or ``recalled`` (by the sender), once.

    History: only ``status`` and ``status_changed`` ever change, and only out of
    ``pending`` (the forward-only triggers); its ranges are ``TransferRange`` rows.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPLETED = "completed"
        REJECTED = "rejected"
        RECALLED = "recalled"

    sender = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="transfers_sent")
    receiver = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="transfers_received"
    )
    quantity = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    status_changed = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves /transfers: an account's sent transfers, newest first (and the
            # sender foreign key).
            models.Index(fields=["sender", "-id"], name="recs_transfer_sent"),
            # Serves /transfers: an account's received transfers, newest first.
            models.Index(fields=["receiver", "-id"], name="recs_transfer_received"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="%(app_label)s_%(class)s_quantity_positive"
            ),
            models.CheckConstraint(
                condition=~Q(sender=F("receiver")), name="%(app_label)s_%(class)s_not_to_self"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", status_changed__isnull=True)
                | Q(
                    status__in=["completed", "rejected", "recalled"],
                    status_changed__isnull=False,
                ),
                name="%(app_label)s_%(class)s_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"transfer {self.pk} of {self.quantity} RECs ({self.status})"


class TransferRange(_Range):
    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="ranges")


class Retirement(models.Model):
    """RECs claimed for a beneficiary's consumption, forever: history, never changed
    but for its anchoring (``state``, ``hash``, ``height``, ``ledger_block``), which
    moves forward as a REC's does. ``statement`` is the unguessable id of its
    public statement.

    A retirement made on chain (a burn of RecToken tokens with its claim) has no
    account: it names the ``wallet`` that burned, the burn's transaction, and the
    keccak-256 hashes of beneficiary and purpose the holder put on chain, in place
    of their text."""

    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, null=True, blank=True, related_name="retirements"
    )
    wallet = models.CharField(max_length=42, blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    log_index = models.IntegerField(null=True, blank=True)
    beneficiary_hash = models.CharField(max_length=64, blank=True)
    purpose_hash = models.CharField(max_length=64, blank=True)
    statement = models.CharField(max_length=32, unique=True, editable=False)
    quantity = models.BigIntegerField()
    beneficiary = models.CharField(max_length=200)
    purpose = models.CharField(max_length=500, blank=True)
    country = models.CharField(max_length=2)
    period_start = models.DateField()
    period_end = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed = models.DateTimeField(null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)
    height = models.BigIntegerField(null=True, blank=True)
    # The ledger block whose Merkle tree holds this retirement's hash.
    ledger_block = models.ForeignKey(
        "chain.LedgerBlock",
        on_delete=models.PROTECT,
        # Checked per statement by triggers, not per row by a foreign key: see
        # core.ledger_guard.references.
        db_constraint=False,
        null=True,
        blank=True,
        related_name="retirements",
        db_index=False,
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            # Serves /retirements: an account's retirements, newest first.
            models.Index(fields=["account", "-id"], name="recs_retirement_account"),
            # Serves sealing: the oldest unsealed retirements first.
            models.Index(
                fields=["id"], name="recs_retirement_to_seal", condition=Q(ledger_block=None)
            ),
            # Serves the state moves of a block: its retirements.
            models.Index(
                fields=["ledger_block"],
                name="recs_retirement_block",
                condition=Q(ledger_block__isnull=False),
            ),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="%(app_label)s_%(class)s_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="%(app_label)s_%(class)s_period_in_order",
            ),
            models.CheckConstraint(
                condition=Q(state__in=STATES), name="%(app_label)s_%(class)s_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(hash__isnull=True) | Q(hash__regex=SHA256_HEX),
                name="%(app_label)s_%(class)s_hash_hex",
            ),
            models.CheckConstraint(
                condition=Q(state="New")
                | Q(state="Pending", hash__isnull=False)
                | Q(state="Processed", hash__isnull=False, height__isnull=False),
                name="%(app_label)s_%(class)s_anchored_when_processed",
            ),
            models.CheckConstraint(
                condition=Q(account__isnull=False, wallet="", tx_hash="")
                | Q(
                    account__isnull=True,
                    wallet__regex=ADDRESS,
                    tx_hash__regex=TX_HASH,
                    beneficiary_hash__regex=SHA256_HEX,
                    purpose_hash__regex=SHA256_HEX,
                ),
                name="%(app_label)s_%(class)s_by_an_account_or_on_chain",
            ),
            # A burn's event is one retirement, however often it is indexed.
            models.UniqueConstraint(
                fields=["tx_hash", "log_index"],
                condition=~Q(tx_hash=""),
                name="%(app_label)s_%(class)s_burn_once",
            ),
        ]

    def __str__(self) -> str:
        return f"retirement {self.pk} of {self.quantity} RECs for {self.beneficiary}"

    @property
    def on_chain(self) -> bool:
        return self.account_id is None

    @property
    def beneficiary_shown(self) -> str:
        if self.on_chain:
            return f"0x{self.beneficiary_hash} (keccak-256 of the name)"
        return self.beneficiary

    @property
    def retired_by(self) -> str:
        if self.on_chain:
            return f"wallet {self.wallet}, burning its tokens in transaction {self.tx_hash}"
        return f"{self.account.customer.name} ({self.account.code})"


class RetirementRange(_Range):
    retirement = models.ForeignKey(Retirement, on_delete=models.PROTECT, related_name="ranges")

    class Meta(_Range.Meta):
        indexes = [
            # Serves the admin's "every retirement of a source" and a serial's retirement.
            models.Index(fields=["source", "last"], name="recs_retirementrange_source"),
        ]


class Tokenization(models.Model):
    """RECs an account moved to a wallet as RecToken tokens (ERC-1155), in one mint.

    Its RECs leave the account's active holdings at once (bundles ``minting``); the
    mint transaction (``chain.transactions``, purpose "tokenization") carries them
    to ``wallet``: ``state`` New until the node has it, Pending until it is final,
    then Processed (bundles ``on_chain``), or Failed if the mint reverts (the RECs
    return active). History: only the state and the mint's outcome change, forward.
    """

    class State(models.TextChoices):
        NEW = "New"
        PENDING = "Pending"
        PROCESSED = "Processed"
        FAILED = "Failed"

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="tokenizations")
    # The RecToken contract that mints them.
    contract = models.CharField(max_length=42)
    wallet = models.CharField(max_length=42)
    quantity = models.BigIntegerField()
    # What the mint carries: [[token id as a decimal string, amount], ...] by token id.
    tokens = models.JSONField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed = models.DateTimeField(null=True, blank=True)
    tx_hash = models.CharField(max_length=66, blank=True)
    height = models.BigIntegerField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves /tokenizations: an account's tokenizations, newest first.
            models.Index(fields=["account", "-id"], name="recs_tokenization_account"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="%(app_label)s_%(class)s_quantity_positive"
            ),
            models.CheckConstraint(
                condition=Q(wallet__regex=ADDRESS) & ~Q(wallet="0x" + "0" * 40),
                name="%(app_label)s_%(class)s_wallet_is_an_address",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["New", "Failed"])
                | Q(state="Pending", tx_hash__regex=TX_HASH)
                | Q(state="Processed", tx_hash__regex=TX_HASH, height__isnull=False),
                name="%(app_label)s_%(class)s_minted_when_processed",
            ),
        ]

    def __str__(self) -> str:
        return f"tokenization {self.pk} of {self.quantity} RECs to {self.wallet} ({self.state})"


class TokenizationRange(_Range):
    tokenization = models.ForeignKey(Tokenization, on_delete=models.PROTECT, related_name="ranges")


class Redemption(models.Model):
    """RecToken tokens a wallet sent back to the contract (which burns them) naming an
    account: that many RECs of the token's source and vintage month return to the
    account, active, oldest serial first. One per Redeemed event; an event that names
    no account returns them to the account they were tokenized from, flagged."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="redemptions")
    account_named = models.CharField(max_length=64)
    wallet = models.CharField(max_length=42)
    token_id = models.DecimalField(max_digits=78, decimal_places=0)
    quantity = models.BigIntegerField()
    tx_hash = models.CharField(max_length=66)
    log_index = models.IntegerField()
    block_number = models.BigIntegerField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves an account's redemptions, newest first.
            models.Index(fields=["account", "-id"], name="recs_redemption_account"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gt=0), name="%(app_label)s_%(class)s_quantity_positive"
            ),
            models.UniqueConstraint(
                fields=["tx_hash", "log_index"], name="%(app_label)s_%(class)s_event_once"
            ),
        ]

    def __str__(self) -> str:
        return f"redemption of {self.quantity} x {self.token_id} to {self.account_named}"


class RedemptionRange(_Range):
    redemption = models.ForeignKey(Redemption, on_delete=models.PROTECT, related_name="ranges")


class IdempotentRequest(models.Model):
    """The first answer to a POST made with an ``Idempotency-Key``: the same key with the
    same body gets it again. Written in the transaction that did the work, so a
    request that failed left none (a retry runs again)."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=255)
    # sha-256 of the method, the path and the canonical JSON of the body.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            # Serves the lookup of a key, and makes it once per account.
            models.UniqueConstraint(
                fields=["account", "key"], name="%(app_label)s_%(class)s_key_once_per_account"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} of {self.account_id}"
