"""Reads behind the energy endpoints: every list is (total, rows of one page)."""

from django.db.models import Q

from chain.selectors import leaf_proof
from core.paging import Page, newest_first, path_id
from energy import certificates
from energy.models import Attribution, Customer, DailyAggregate, Source


def source_list(*, customer: Customer, page: Page) -> tuple[int, list[Source]]:
    # A customer's sources number in the thousands, not millions: a plain
    # count and OFFSET on the (customer, id) index stay cheap.
    sources = Source.objects.filter(customer=customer)
    total = sources.count()
    if page.offset >= total:
        return total, []
    rows = sources.select_related("parent").order_by("id")[page.offset : page.offset + page.size]
    return total, list(rows)


def source_find(*, customer: Customer, device_id: str) -> Source:
    """The customer's source by internal id or external id (internal id wins a tie).

    Raises Source.DoesNotExist, for another customer's source too.
    """
    if not device_id or len(device_id) > 128 or "\x00" in device_id:
        raise Source.DoesNotExist(device_id)  # no stored external id looks like this
    match = Q(external_id=device_id)
    if (as_id := path_id(device_id)) is not None:
        match |= Q(pk=as_id)
    # At most two rows: one by id, one by external id (unique per customer).
    found = sorted(Source.objects.filter(match, customer=customer), key=lambda s: s.pk != as_id)
    if not found:
        raise Source.DoesNotExist(device_id)
    return found[0]


def attribution_page(*, source: Source, page: Page) -> tuple[int, list[Attribution]]:
    total, rows = newest_first(
        Attribution.objects.filter(source=source), source.attribution_count, page
    )
    certificates.attach(rows)
    return total, rows


def daily_page(*, source: Source, page: Page) -> tuple[int, list[DailyAggregate]]:
    total, rows = newest_first(
        DailyAggregate.objects.filter(source=source), source.daily_count, page
    )
    recs = certificates.recs_by_id(row.rec_id for row in rows)
    for row in rows:
        row.rec = recs.get(row.rec_id)
    return total, rows


def attribution_get(*, source: Source, attribution_id: str) -> Attribution:
    """One of the source's transactions; raises DoesNotExist."""
    if (pk := path_id(attribution_id)) is None:
        raise Attribution.DoesNotExist(attribution_id)
    return Attribution.objects.select_related("ledger_block", "source").get(pk=pk, source=source)


def attribution_proof(*, attribution: Attribution) -> dict | None:
    """Everything needed to check the attribution against the chain; None if unsealed."""
    block = attribution.ledger_block
    if block is None:
        return None
    source = attribution.source
    proof = leaf_proof(block=block, leaf_id=attribution.pk)
    return {
        "attribution_id": attribution.pk,
        "leaf": proof.pop("leaf"),
        "leaf_fields": {
            "client_id": source.client_id,
            "external_id": attribution.external_id,
            "effective_time": int(attribution.effective_time.timestamp()),
            "value": attribution.value,
        },
        **proof,
    }
