"""Factories and ledger helpers for tests.

The helpers that move attributions forward stand in for the anchoring and
issuance steps of later issues: they make the same row changes those steps
make and then call ``daily_refresh`` as those steps must.
"""

import datetime as dt
import hashlib
import itertools

import factory
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from energy.daily import daily_refresh
from energy.models import Attribution, Customer, Source, State
from energy.services import NewAttribution, attributions_append, token_create
from recs.models import Link, Rec

T0 = dt.datetime(2019, 3, 15, 0, tzinfo=dt.UTC)
_counter = itertools.count(1)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"customer-{n}")


class SourceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Source

    customer = factory.SubFactory(CustomerFactory)
    external_id = factory.Sequence(lambda n: f"5c38b26915d03d01774f{n:04x}")
    name = factory.Sequence(lambda n: f"Meter {n}")
    client_id = factory.Sequence(lambda n: "0x" + hashlib.sha256(str(n).encode()).hexdigest())


def token_for(customer: Customer) -> str:
    return token_create(customer=customer)[1]


def append(source: Source, values: list[int], start: dt.datetime = T0) -> list[Attribution]:
    """Hourly attributions of ``values`` mWh from ``start`` on."""
    rows = [
        NewAttribution(
            external_id=f"tx-{next(_counter)}",
            effective_time=start + dt.timedelta(hours=i),
            value=value,
        )
        for i, value in enumerate(values)
    ]
    return attributions_append(source=source, rows=rows)


def _digest(*parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _refresh(attributions: list[Attribution]) -> None:
    days: dict[int, set] = {}
    for a in attributions:
        days.setdefault(a.source_id, set()).add(a.effective_time.date())
    daily_refresh(days)


def mark_pending(attributions: list[Attribution]) -> None:
    with transaction.atomic():
        for a in attributions:
            Attribution.objects.filter(pk=a.pk).update(
                state=State.PENDING, hash=_digest("tx", a.pk), state_changed=timezone.now()
            )
        _refresh(attributions)


def mark_processed(attributions: list[Attribution], height: int = 2049470) -> None:
    with transaction.atomic():
        for a in attributions:
            Attribution.objects.filter(pk=a.pk).update(
                state=State.PROCESSED,
                hash=_digest("tx", a.pk),
                height=height,
                block_id=_digest("block", height),
                state_changed=timezone.now(),
            )
        _refresh(attributions)


def issue_rec(
    source: Source,
    members: list[Attribution],
    remainder: int = 0,
    incoming: tuple[Attribution, int] | None = None,
) -> Rec:
    """A REC over processed ``members``; the last one carries ``remainder`` forward.

    ``incoming`` = (the split transaction, amount) adds the remainder transaction
    that opens this REC, as the spec's section 5 shows.
    """
    with transaction.atomic():
        Customer.objects.filter(pk=source.customer_id).update(rec_count=F("rec_count") + 1)
        seq = Customer.objects.get(pk=source.customer_id).rec_count
        rec = Rec.objects.create(customer_id=source.customer_id, source=source, seq=seq)
        if incoming is not None:
            split, amount = incoming
            opener = Attribution.objects.create(
                source=source,
                kind=Attribution.Kind.REMAINDER,
                external_id=f"rem-{next(_counter)}",
                effective_time=split.effective_time,
                value=amount,
                state=State.PROCESSED,
                block_id=Attribution.REMAINDER_BLOCK_ID,
                split_from=split,
            )
            Link.objects.create(attribution=opener, rec=rec)
        Link.objects.bulk_create(
            Link(attribution=member, rec=rec, remainder=remainder if i == len(members) - 1 else 0)
            for i, member in enumerate(members)
        )
        _refresh(members)
    return rec


def process_rec(rec: Rec, height: int = 2143817) -> None:
    Rec.objects.filter(pk=rec.pk).update(
        state=State.PROCESSED,
        hash=_digest("rec", rec.pk),
        height=height,
        state_changed=timezone.now(),
    )
