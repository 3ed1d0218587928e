"""Reads behind the REC endpoints, and the answer to energy's "which REC holds it"."""

import bisect
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection
from django.db.models import Exists, Max, Min, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils.dateparse import parse_datetime

from chain.selectors import leaf_proof
from core.paging import Page, newest_first, path_id
from energy.certificates import Held
from energy.models import Attribution, Customer, Source
from energy.selectors import source_find
from recs.models import (
    Account,
    Bundle,
    Numbering,
    Rec,
    Remainder,
    Retirement,
    RetirementRange,
    Span,
    Tokenization,
    TokenizationRange,
    Transfer,
    TransferRange,
)
from recs.tokens import token_id, token_origin


def rec_list(*, customer: Customer, page: Page) -> tuple[int, list[Rec]]:
    numbering = Numbering.objects.filter(customer=customer).first()
    total = numbering.rec_count if numbering else 0
    return newest_first(Rec.objects.filter(customer=customer), total, page)


def rec_get(*, customer: Customer, rec_id: str) -> Rec:
    """A REC the customer issued, or whose serial its account holds (active, in a
    transfer it sent, or retired); raises Rec.DoesNotExist for any other."""
    if (pk := path_id(rec_id)) is None:
        raise Rec.DoesNotExist(rec_id)
    rec = Rec.objects.select_related("opener").get(pk=pk)
    if (
        rec.customer_id != customer.pk
        and not Bundle.objects.filter(
            account__customer=customer,
            source_id=rec.source_id,
            first__lte=rec.serial,
            last__gte=rec.serial,
        ).exists()
    ):
        raise Rec.DoesNotExist(rec_id)
    return rec


def in_a_span() -> Exists:
    """The attribution of an outer query lies in a span of a REC (a REC holds it if its
    value is positive)."""
    return Exists(
        Span.objects.filter(
            source_id=OuterRef("source_id"),
            seq_last__gte=OuterRef("seq"),
            seq_first__lte=OuterRef("seq"),
        )
    )


def _covered(spans: list[Span]) -> Q:
    """The positive transactions of the spans' source with a seq in one of them."""
    runs = Q()
    for span in spans:
        runs |= Q(seq__range=(span.seq_first, span.seq_last))
    return Q(value__gt=0) & runs


def rec_transactions(*, rec: Rec, page: Page | None = None) -> list:
    """The REC's transactions in REC order: its opening ``Remainder``, then the metered
    ones (``energy.Attribution``, each with its place in the REC) in time order."""
    try:
        opener = rec.opener  # read with the REC by rec_get
    except Remainder.DoesNotExist:
        opener = None
    spans = list(Span.objects.filter(rec=rec).order_by("seq_first"))
    start, size = (page.offset, page.size) if page else (0, None)
    rows: list = []
    if opener is not None:
        if start == 0:
            rows.append(opener)
            size = None if size is None else size - 1
        else:
            start -= 1
    if spans and size != 0:
        members = Attribution.objects.filter(_covered(spans), source_id=rec.source_id)
        members = members.order_by("seq")[start : None if size is None else start + size]
        last = spans[-1]
        for row in members:
            carried = last.remainder if row.seq == last.seq_last else 0
            row.held = Held(rec, carried, last.created)
            rows.append(row)
    return rows


class RecHolder:
    """``energy.certificates.Holder``: RECs hold the positive transactions their spans cover."""

    def held(self, rows: list[Attribution]) -> dict[int, Held]:
        seqs = [row.seq for row in rows if row.value > 0]
        if not seqs:
            return {}
        source_id, low, high = rows[0].source_id, min(seqs), max(seqs)
        # Spans never overlap: past the first one ending at or after ``high`` none
        # can reach the rows, so the index range stops there (and does not run on
        # through every later span of the source).
        reach = (
            Span.objects.filter(source_id=source_id, seq_last__gte=high)
            .order_by("seq_last")
            .values("seq_last")[:1]
        )
        spans = list(
            Span.objects.filter(
                source_id=source_id,
                seq_last__gte=low,
                seq_last__lte=Coalesce(Subquery(reach), Value(high)),
                seq_first__lte=high,
            )
            .select_related("rec")
            .order_by("seq_last")
        )
        ends = [span.seq_last for span in spans]
        found = {}
        for row in rows:
            i = bisect.bisect_left(ends, row.seq)
            if row.value > 0 and i < len(spans) and spans[i].seq_first <= row.seq:
                span = spans[i]
                carried = span.remainder if row.seq == span.seq_last else 0
                found[row.pk] = Held(span.rec, carried, span.created)
        return found

    def recs_by_id(self, ids: Iterable[int]) -> dict[int, Rec]:
        return Rec.objects.in_bulk(list(ids))

    def rec_id_sql(self, alias: str) -> str:
        # Spans of a source never overlap: the first one ending at or after the
        # row's seq is the only one that can hold it (the (source, seq_last) index).
        return f"""(
            SELECT sp.rec_id FROM (
                SELECT rec_id, seq_first FROM {Span._meta.db_table}
                WHERE source_id = {alias}.source_id AND seq_last >= {alias}.seq
                ORDER BY seq_last LIMIT 1
            ) AS sp WHERE sp.seq_first <= {alias}.seq AND {alias}.value > 0
        )"""

    def spans_sql(self, source: str, low: str, high: str) -> str:
        # The spans ending in low..high, and the first one ending past it, which is
        # the only other one that can reach into it: two index probes.
        table = Span._meta.db_table
        return f"""
            SELECT rec_id, seq_first, seq_last FROM {table}
            WHERE source_id = {source} AND seq_last BETWEEN {low} AND {high}
            UNION ALL (
                SELECT rec_id, seq_first, seq_last FROM {table}
                WHERE source_id = {source} AND seq_last > {high}
                ORDER BY seq_last LIMIT 1
            )"""


def rec_members(rec_ids: list[int], *, by: str = "hash") -> dict[int, list[tuple]]:
    """Each REC's (hash of the transaction its energy comes from, mWh taken), in REC
    order: the opening remainder's (from the transaction it was split off), then
    its metered transactions'. What a REC's leaf covers and what the audit sums.
    ``by="effective_time"``: the hour of each part instead of its hash (a profile)."""
    members: dict[int, list[tuple]] = defaultdict(list)
    if not rec_ids:
        return members
    opener_origin = {"hash": "split_from__hash", "effective_time": "effective_time"}[by]
    openers = Remainder.objects.filter(rec_id__in=rec_ids).values_list(
        "rec_id", opener_origin, "value", "remainder"
    )
    for rec_id, origin, value, carried in openers:
        members[rec_id].append((origin, value - carried))
    attributions, spans = Attribution._meta.db_table, Span._meta.db_table
    column = Attribution._meta.get_field(by)
    for start in range(0, len(rec_ids), 500):
        chunk = rec_ids[start : start + 500]
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT sp.rec_id, a.{column.column},
                       a.value - CASE WHEN a.seq = sp.seq_last THEN sp.remainder ELSE 0 END
                FROM {spans} sp JOIN {attributions} a
                     ON a.source_id = sp.source_id AND a.seq >= sp.seq_first
                        AND a.seq <= sp.seq_last AND a.value > 0
                WHERE sp.rec_id IN ({", ".join(["%s"] * len(chunk))})
                ORDER BY sp.rec_id, a.seq
                """,
                chunk,
            )
            for rec_id, own, taken in cursor.fetchall():
                if by == "effective_time":  # SQLite hands back text or naive UTC times
                    own = parse_datetime(own) if isinstance(own, str) else own
                    own = own if own.tzinfo else own.replace(tzinfo=dt.UTC)
                members[rec_id].append((own, taken))
    return members


def rec_proof(*, rec: Rec) -> dict | None:
    """Everything needed to check the REC against the chain and back to the hours its
    energy comes from; None while the REC is not sealed."""
    if rec.ledger_block_id is None:
        return None
    members = []
    openers = Remainder.objects.filter(rec=rec).values_list(
        "split_from_id", "split_from__hash", "value", "remainder"
    )
    for origin, leaf, value, carried in openers:
        members.append((origin, leaf, value - carried))
    last = Span.objects.filter(rec=rec).order_by("-seq_last").first()
    for row in rec_transactions(rec=rec):
        if isinstance(row, Attribution):
            carried = last.remainder if row.seq == last.seq_last else 0
            members.append((row.pk, row.hash, row.value - carried))
    proof = leaf_proof(block=rec.ledger_block, leaf_id=rec.pk)
    return {
        "rec_id": rec.pk,
        "leaf": proof.pop("leaf"),
        "leaf_fields": {
            "client_id": rec.source.client_id,
            "version": rec.leaf_version,
            "serial": rec.serial,
            "members": [
                {"attribution_id": pk, "device_id": rec.source_id, "leaf": "0x" + leaf, "taken": n}
                for pk, leaf, n in members
            ],
        },
        **proof,
    }


def holding_list(
    *, customer: Customer, page: Page, source: Source | None = None, status: str | None = None
) -> tuple[int, list[Bundle]]:
    """The bundles the customer's account holds, in source and serial order; each with
    ``production_start`` / ``production_end``, the first and last hour of its energy."""
    bundles = Bundle.objects.filter(account__customer=customer)
    if source is not None:
        bundles = bundles.filter(source=source)
    if status is not None:
        bundles = bundles.filter(status=status)
    # An account holds bundles in the thousands, not millions: count and OFFSET serve.
    total = bundles.count()
    # The page's ids first: the production hours are then read for its rows only, not
    # for every row the OFFSET skips.
    ids = list(
        bundles.order_by("source_id", "first").values_list("pk", flat=True)[
            page.offset : page.offset + page.size
        ]
    )
    shown = Bundle.objects.filter(pk__in=ids).select_related("source")
    return total, list(with_production(shown).order_by("source_id", "first"))


def with_production(ranges: QuerySet) -> QuerySet:
    """Ranges of serials (bundles, or a transfer's or retirement's) annotated with
    ``production_start`` / ``production_end``: the first and last hour of their RECs'
    energy (late hours make a later serial's energy older, so it is a min and a max)."""
    recs = Rec.objects.filter(
        source_id=OuterRef("source_id"), serial__gte=OuterRef("first"), serial__lte=OuterRef("last")
    ).order_by()
    return ranges.annotate(
        production_start=Subquery(
            recs.values("source_id").annotate(at=Min("production_start")).values("at")
        ),
        production_end=Subquery(
            recs.values("source_id").annotate(at=Max("production_end")).values("at")
        ),
    )


def rec_statuses(recs: list[Rec]) -> None:
    """Give each REC its ``status``: that of the bundle holding its serial."""
    if not recs:
        return
    sources = {rec.source_id for rec in recs}
    low, high = min(r.serial for r in recs), max(r.serial for r in recs)
    bundles = Bundle.objects.filter(source_id__in=sources, last__gte=low, first__lte=high)
    ranges = defaultdict(list)
    for bundle in bundles.values_list("source_id", "first", "last", "status"):
        ranges[bundle[0]].append(bundle[1:])
    for rec in recs:
        rec.status = next(
            (s for first, last, s in ranges[rec.source_id] if first <= rec.serial <= last), None
        )


def held_source(*, customer: Customer, device_id: str) -> Source | None:
    """The source a holdings filter names: by internal id, any source of a bundle the
    customer's account holds; by external id, among the customer's own sources."""
    if (pk := path_id(device_id)) is not None and Bundle.objects.filter(
        account__customer=customer, source_id=pk
    ).exists():
        return Source.objects.get(pk=pk)
    try:
        return source_find(customer=customer, device_id=device_id)
    except Source.DoesNotExist:
        return None


def transfer_list(
    *, customer: Customer, page: Page, status: str | None = None
) -> tuple[int, list[Transfer]]:
    """The transfers the customer's account sent or received, newest first."""
    account = Account.objects.filter(customer=customer).first()
    transfers = Transfer.objects.filter(Q(sender=account) | Q(receiver=account))
    if status is not None:
        transfers = transfers.filter(status=status)
    # Transfers of one account number in the thousands: count and OFFSET serve.
    total = transfers.count()
    rows = list(
        transfers.select_related("sender", "receiver").order_by("-id")[
            page.offset : page.offset + page.size
        ]
    )
    _with_ranges(rows, TransferRange, "transfer_id")
    return total, rows


def transfer_get(*, customer: Customer, transfer_id: str) -> Transfer:
    """A transfer the customer sent or received; Transfer.DoesNotExist for any other."""
    account = Account.objects.filter(customer=customer).first()
    if (pk := path_id(transfer_id)) is None or account is None:
        raise Transfer.DoesNotExist(transfer_id)
    transfer = Transfer.objects.select_related("sender", "receiver").get(
        Q(sender=account) | Q(receiver=account), pk=pk
    )
    _with_ranges([transfer], TransferRange, "transfer_id")
    return transfer


def _with_ranges(owners: list, model, key: str) -> None:
    """Give each transfer or retirement its ``range_list``, in source and serial order."""
    found = defaultdict(list)
    rows = model.objects.filter(**{f"{key}__in": [o.pk for o in owners]})
    for row in rows.order_by(key, "source_id", "first"):
        found[getattr(row, key)].append(row)
    for owner in owners:
        owner.range_list = found[owner.pk]


def retirement_list(*, customer: Customer, page: Page) -> tuple[int, list[Retirement]]:
    """The retirements of the customer's account, newest first."""
    retirements = Retirement.objects.filter(account__customer=customer)
    # Retirements of one account number in the thousands: count and OFFSET serve.
    total = retirements.count()
    rows = list(retirements.order_by("-id")[page.offset : page.offset + page.size])
    _with_ranges(rows, RetirementRange, "retirement_id")
    return total, rows


def retirement_get(*, customer: Customer, retirement_id: str) -> Retirement:
    """A retirement of the customer's account; Retirement.DoesNotExist for any other."""
    if (pk := path_id(retirement_id)) is None:
        raise Retirement.DoesNotExist(retirement_id)
    retirement = Retirement.objects.get(pk=pk, account__customer=customer)
    _with_ranges([retirement], RetirementRange, "retirement_id")
    return retirement


def tokenization_list(*, customer: Customer, page: Page) -> tuple[int, list[Tokenization]]:
    """The tokenizations of the customer's account, newest first."""
    tokenizations = Tokenization.objects.filter(account__customer=customer)
    total = tokenizations.count()
    rows = list(tokenizations.order_by("-id")[page.offset : page.offset + page.size])
    _with_ranges(rows, TokenizationRange, "tokenization_id")
    return total, rows


def tokenization_get(*, customer: Customer, tokenization_id: str) -> Tokenization:
    """A tokenization of the customer's account; Tokenization.DoesNotExist for any other."""
    if (pk := path_id(tokenization_id)) is None:
        raise Tokenization.DoesNotExist(tokenization_id)
    tokenization = Tokenization.objects.get(pk=pk, account__customer=customer)
    _with_ranges([tokenization], TokenizationRange, "tokenization_id")
    return tokenization


def serials_within(runs) -> Q:
    """RECs whose serial lies in one of ``runs`` (anything with ``source_id``, ``first``
    and ``last``: runs, bundles, a transfer's or retirement's ranges)."""
    within = Q()
    for run in runs:
        within |= Q(source_id=run.source_id, serial__range=(run.first, run.last))
    return within


def token_event_list(*, token: str, page: Page) -> tuple[int, list]:
    """What happened on chain to a token id (hex or decimal), newest first: its
    transfers, mints, burns, retirements and redemptions from final blocks; raises
    LookupError for a string that is no token id. Chain data, public to every reader."""
    from chain.models import TokenEvent

    origin = token_origin(token)
    if origin is None:
        raise LookupError(token)
    events = TokenEvent.objects.filter(token_id=token_id(*origin))
    total = events.count()
    rows = events.order_by("-block_number", "-log_index", "-position")
    return total, list(rows[page.offset : page.offset + page.size])
