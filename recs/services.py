"""REC issuance: cut each source's processed generation into RECs of exactly 1 MWh."""

from collections import defaultdict

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from cg.sql import insert_rows, update_by_id
from energy.daily import daily_refresh
from energy.models import Attribution, Customer, Source, State
from recs.cutting import cut_recs
from recs.models import Rec


def _issuable():
    """Processed generation in no REC yet: what issuance cuts."""
    return Attribution.objects.filter(
        kind=Attribution.Kind.METERED, state=State.PROCESSED, value__gt=0, rec__isnull=True
    )


def sources_due() -> list[int]:
    """Sources with processed generation waiting for a REC."""
    return sorted(set(_issuable().values_list("source_id", flat=True).distinct()))


def rec_issue(*, source_id: int) -> int:
    """Issue every whole REC of one source; the number issued.

    The source row is locked for the whole cut, so two workers issuing the same
    source at once issue its RECs once: the second sees what the first linked.
    """
    with transaction.atomic():
        source = Source.objects.select_for_update().get(pk=source_id)
        txs = list(
            _issuable()
            .filter(source_id=source_id)
            .order_by("effective_time", "id")
            .values_list("id", "value", "effective_time")
        )
        plan = cut_recs(source.rec_carry, source.rec_carry_from_id, [t[:2] for t in txs])
        if not plan.recs:  # the carry only moves when a REC is completed
            return 0
        when = {pk: effective for pk, _, effective in txs}
        if source.rec_carry_from_id:
            split = Attribution.objects.get(pk=source.rec_carry_from_id)
            when[split.pk] = split.effective_time
        recs = _new_recs(source, len(plan.recs))
        now = timezone.now()
        links, openers, days = [], [], defaultdict(set)
        for rec, cut in zip(recs, plan.recs, strict=True):
            for tx_id, remainder in cut.members:
                links.append((tx_id, rec.pk, remainder))
                days[source_id].add(when[tx_id].date())
            if cut.opener is not None:
                o = cut.opener
                openers.append(
                    (
                        source_id, "remainder", f"{source_id}-r{rec.seq}", when[o.split_from],
                        o.value, State.PROCESSED, Attribution.REMAINDER_BLOCK_ID, rec.pk,
                        o.remainder, o.split_from, now, now,
                    )
                )  # fmt: skip
        update_by_id("energy_attribution", {"rec_id": "bigint", "remainder": "bigint"}, links)
        insert_rows(
            "energy_attribution",
            ["source_id", "kind", "external_id", "effective_time", "value", "state", "block_id",
             "rec_id", "remainder", "split_from_id", "created", "modified"],
            openers,
        )  # fmt: skip
        Source.objects.filter(pk=source_id).update(
            rec_carry=plan.carry, rec_carry_from_id=plan.carry_from
        )
        daily_refresh(days)
    return len(recs)


def _new_recs(source: Source, count: int) -> list[Rec]:
    """``count`` RECs of the source, numbered after the customer's last one."""
    if not count:
        return []
    customer = Customer.objects.select_for_update().get(pk=source.customer_id)
    Customer.objects.filter(pk=customer.pk).update(rec_count=F("rec_count") + count)
    return Rec.objects.bulk_create(
        Rec(customer_id=customer.pk, source_id=source.pk, seq=customer.rec_count + i)
        for i in range(1, count + 1)
    )


def recs_issue_all() -> int:
    """Issue every due source, one transaction each; the RECs issued."""
    return sum(rec_issue(source_id=source_id) for source_id in sources_due())
