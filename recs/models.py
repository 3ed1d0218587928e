"""Renewable energy certificates: exactly 1 MWh of processed generation each."""

from django.db import models
from django.db.models import Q

from energy.models import SHA256_HEX, STATES, State
from energy.units import REC_VALUE


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
