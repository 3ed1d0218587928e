"""Reads behind the REC endpoints."""

from core.paging import Page, newest_first, path_id
from energy.models import Attribution, Customer
from recs.models import Numbering, Rec


def rec_list(*, customer: Customer, page: Page) -> tuple[int, list[Rec]]:
    numbering = Numbering.objects.filter(customer=customer).first()
    total = numbering.rec_count if numbering else 0
    return newest_first(Rec.objects.filter(customer=customer), total, page)


def rec_get(*, customer: Customer, rec_id: str) -> Rec:
    """Raises Rec.DoesNotExist, for another customer's REC too."""
    if (pk := path_id(rec_id)) is None:
        raise Rec.DoesNotExist(rec_id)
    return Rec.objects.get(pk=pk, customer=customer)


def rec_transactions(*, rec: Rec, page: Page) -> list[Attribution]:
    """The REC's transactions in time order, the incoming remainder transaction first."""
    # A REC holds at most 1 MWh of transactions: a short list, so OFFSET is fine.
    # "remainder" sorts after "metered", so -kind puts the incoming one first.
    rows = rec.transactions.select_related("link").order_by("-kind", "effective_time", "id")
    return list(rows[page.offset : page.offset + page.size])
