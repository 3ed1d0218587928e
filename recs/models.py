"""Renewable energy certificates: exactly 1 MWh of processed generation each."""

from django.db import models
from django.db.models import Q

from core.units import REC_VALUE
from energy.models import SHA256_HEX, STATES, Attribution, State


class Rec(models.Model):
    customer = models.ForeignKey("energy.Customer", on_delete=models.PROTECT, related_name="recs")
    source = models.ForeignKey("energy.Source", on_delete=models.PROTECT, related_name="recs")
    # 1-based position among the customer's RECs in issuance order: a page of
    # /recs is a range of it.
    seq = models.BigIntegerField(editable=False)
    value = models.BigIntegerField(default=REC_VALUE, editable=False, help_text="mWh")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed = models.DateTimeField(null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)
    height = models.BigIntegerField(null=True, blank=True)
    # The ledger block whose Merkle tree holds this REC's hash.
    ledger_block = models.ForeignKey(
        "chain.LedgerBlock",
        on_delete=models.PROTECT,
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
            models.CheckConstraint(
                condition=Q(value=REC_VALUE), name="%(app_label)s_%(class)s_value_is_one_mwh"
            ),
            models.CheckConstraint(
                condition=Q(seq__gt=0), name="%(app_label)s_%(class)s_seq_positive"
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
    def transactions(self):
        """Its transactions (``energy.Attribution``), through its links."""
        return Attribution.objects.filter(link__rec=self)


class Link(models.Model):
    """A transaction in a REC: which REC, and what of it is left for the next one.

    Written once by issuance, never changed (an append-only guard). The
    database checks each inserting statement as a whole (migration 0005): the
    transaction and the REC exist and belong to one source, the transaction is
    Processed generation, and the remainder is less than its value. Per-row
    foreign keys would check and lock a million rows one by one at commit,
    slower than the issuance itself.
    """

    attribution = models.OneToOneField(
        "energy.Attribution",
        on_delete=models.PROTECT,
        primary_key=True,
        related_name="link",
        db_constraint=False,
    )
    rec = models.ForeignKey(
        Rec, on_delete=models.PROTECT, related_name="links", db_constraint=False
    )
    remainder = models.BigIntegerField(default=0, help_text="mWh carried to the next REC")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # Serves the transactions of a REC (/recs/{id}, its hash, the audit).
            models.Index(fields=["rec"], name="recs_link_rec"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(remainder__gte=0), name="%(app_label)s_%(class)s_remainder_gte_0"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.attribution_id} in REC {self.rec_id}"


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
