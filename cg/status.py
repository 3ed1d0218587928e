"""Where the pipeline stands: each stage's backlog and lag, for /metrics and the
operators' pipeline page alike.

Every figure comes from stored counters or a small indexed lookup, never from a
count over the attribution table: a scrape every 15 seconds must cost nothing.
"""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, F, Max, Q, Sum
from django.utils import timezone

from core.units import MWH


@dataclass(frozen=True)
class Stage:
    name: str
    waiting: int  # rows, blocks or sources the stage has still to do
    unit: str
    oldest: dt.datetime | None  # since when the oldest of them waits

    def lag(self, now: dt.datetime) -> dt.timedelta | None:
        return now - self.oldest if self.oldest else None


@dataclass(frozen=True)
class PipelineStatus:
    now: dt.datetime
    attributions: dict[str, int]  # by anchoring state
    blocks: dict[str, int]  # by status
    blocks_failing: int
    recs_issued: int
    quarantined: int
    stages: list[Stage]


def pipeline_status() -> PipelineStatus:
    from chain.models import EngineTransaction, LedgerBlock
    from energy.models import Attribution, Quality, Source, Unsealed
    from recs.models import Issuance, Retirement

    now = timezone.now()
    totals = Source.objects.aggregate(
        new=Sum("new_number"), rec=Sum("rec_number"), without=Sum("without_rec_number")
    )
    unconfirmed = LedgerBlock.objects.exclude(status=LedgerBlock.Status.CONFIRMED)
    marked = unconfirmed.filter(kind="attributions", rows_marked=True)
    pending = marked.aggregate(n=Sum("count"))["n"] or 0
    new = (totals["new"] or 0) - pending
    waiting = dict(
        unconfirmed.order_by().values("status").annotate(n=Count("pk")).values_list("status", "n")
    )
    top = LedgerBlock.objects.aggregate(n=Max("ledger_height"))["n"] or 0
    blocks = {status: waiting.get(status, 0) for status in ("sealed", "signed", "sent")}
    blocks["confirmed"] = top - sum(blocks.values())

    def oldest(rows, field: str):
        return rows.order_by("ledger_height").values_list(field, flat=True).first()

    behind = Source.objects.filter(
        Q(hourly_closed_until__isnull=True, last_sample_time__isnull=False)
        | Q(last_sample_time__gte=F("hourly_closed_until") + dt.timedelta(hours=1))
    )
    unsealed = Unsealed.objects.order_by("effective_time", "attribution_id")
    to_send = unconfirmed.filter(status__in=["sealed", "signed"])
    sent = unconfirmed.filter(status="sent")
    retiring = Retirement.objects.filter(ledger_block__isnull=True)
    minting = EngineTransaction.objects.filter(status__in=["queued", "signed", "sent"])
    # Sources with at least a whole MWh Processed and in no REC yet (stored counters).
    due = Source.objects.filter(without_rec_sum__gte=MWH).count()
    stages = [
        Stage(
            "hours from readings", behind.count(), "sources",
            behind.order_by("hourly_closed_until").values_list("hourly_closed_until", flat=True)
            .first(),
        ),
        Stage(
            "sealing", new, "hours",
            unsealed.values_list("effective_time", flat=True).first(),
        ),
        Stage("issuance", due, "sources", None),
        Stage("sending", to_send.count(), "blocks", oldest(to_send, "sealed_at")),
        Stage("confirming", sent.count(), "blocks", oldest(sent, "sent_at")),
        Stage(
            "retirements to seal", retiring.count(), "retirements",
            retiring.order_by("id").values_list("created", flat=True).first(),
        ),
        Stage(
            "mints", minting.count(), "transactions",
            minting.order_by("id").values_list("created", flat=True).first(),
        ),
    ]  # fmt: skip
    return PipelineStatus(
        now=now,
        attributions={
            "New": new,
            "Pending": pending,
            "Processed": (totals["rec"] or 0) + (totals["without"] or 0),
        },
        blocks=blocks,
        blocks_failing=unconfirmed.exclude(last_error="").count(),
        recs_issued=Issuance.objects.aggregate(n=Sum("rec_count"))["n"] or 0,
        quarantined=Attribution.objects.filter(quality=Quality.QUARANTINED).count(),
        stages=stages,
    )
