"""Factories and ledger helpers for tests.

The ledger helpers reach only states the pipeline reaches: rows are sealed into
real ledger blocks (real leaves, roots and block hashes), anchored on the test
chain, and confirmed by the confirming step itself; RECs are cut by issuance.
So ``verify_ledger`` passes on whatever they build (``assert_ledger_verified``).
"""

import datetime as dt
import hashlib
import itertools
from contextlib import contextmanager

import factory
from django.conf import settings
from django.db import connection, transaction

from chain import client
from chain.audit import ledger_problems
from chain.confirming import rows_mark_sent
from chain.models import LedgerBlock
from chain.sealing import blocks_seal, new_block
from chain.services import block_confirm, blocks_send
from energy.ledger import KIND, batch_of, leaf_rows
from energy.models import Attribution, Customer, Source, Unsealed
from energy.services import NewAttribution, attributions_append, token_create
from recs.ledger import KIND as REC_KIND
from recs.ledger import RecLeaves
from recs.models import Rec
from recs.services import rec_issue

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
    # 10 MW: generation needs a capacity, and no test hour comes near this one.
    capacity_wh = 10_000_000


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


@contextmanager
def node_calls_in_the_test_transaction():
    """Let the engine call the test chain inside the test's transaction.

    pytest-django runs a test in a transaction, where the engine refuses node
    calls (in production they would hold row locks while a node answers); the
    in-process test chain answers at once.
    """
    w3 = client.web3()
    guard = "no_rpc_inside_transaction"
    if guard not in w3.middleware_onion:  # an outer one lets them through already
        yield w3
        return
    w3.middleware_onion.remove(guard)
    try:
        yield w3
    finally:
        w3.middleware_onion.add(client.NoRpcInsideTransaction, guard)


def _send_and_confirm(blocks: list[LedgerBlock], confirm: bool) -> None:
    with node_calls_in_the_test_transaction() as w3:
        blocks_send()
        if not confirm:
            rows_mark_sent()  # as a confirmation pass leaves blocks still waiting
            return
        if settings.CHAIN_CONFIRMATIONS > 1:  # bury them as deep as the engine waits for
            w3.provider.ethereum_tester.mine_blocks(settings.CHAIN_CONFIRMATIONS - 1)
        for block in blocks:
            block = LedgerBlock.objects.get(pk=block.pk)
            if block.status != LedgerBlock.Status.CONFIRMED:
                assert block_confirm(block), f"block {block.ledger_height} did not confirm"


def _seal_and_anchor(attributions: list[Attribution], confirm: bool) -> None:
    """Seal the rows not in a block yet into one new block, send it, and confirm it and
    the blocks the other rows are in (when ``confirm``)."""
    ids = [a.pk for a in attributions]
    if not ids:
        return
    rows = Attribution.objects.filter(pk__in=ids)
    assert not rows.filter(value__lt=0).exists(), "consumption is never sealed: it stays New"
    blocks = list(LedgerBlock.objects.filter(attributions__in=rows).distinct())
    fresh = rows.filter(pk__in=Unsealed.objects.values("attribution_id")).order_by(
        "effective_time", "id"
    )
    with transaction.atomic():
        if to_seal := leaf_rows(fresh):
            # Sealed out of the queue's order: taken off it as sealing takes its oldest.
            Unsealed.objects.filter(attribution_id__in=[row[0] for row in to_seal]).delete()
            blocks.append(new_block(KIND, batch_of(to_seal)))
    _send_and_confirm(blocks, confirm)


def mark_pending(attributions: list[Attribution]) -> None:
    """Seal these generation rows into a ledger block and send it: they are Pending."""
    _seal_and_anchor(attributions, confirm=False)


def mark_processed(attributions: list[Attribution]) -> None:
    """Seal, send and confirm: these rows (and the rest of their blocks) are Processed."""
    _seal_and_anchor(attributions, confirm=True)


def issue(source: Source, *, anchor: bool = True) -> list[Rec]:
    """Issue the source's RECs as the pipeline does; seal and anchor them (``anchor``)."""
    before = set(Rec.objects.filter(source=source).values_list("pk", flat=True))
    rec_issue(source_id=source.pk)
    recs = Rec.objects.filter(source=source).exclude(pk__in=before).order_by("seq")
    if anchor:
        anchor_recs()
    return list(recs)


def anchor_recs() -> None:
    """Seal every REC not in a block yet, anchor and confirm it, as the pipeline does."""
    blocks = []
    with transaction.atomic():
        # Sealed RECs are marked only once sent: each batch starts after the last block.
        while batch := RecLeaves().take(settings.BLOCK_MAX_TXS, blocks[-1] if blocks else None):
            blocks.append(new_block(REC_KIND, batch))
    if blocks:
        _send_and_confirm(blocks, True)


def anchor_all() -> None:
    """Seal every waiting leaf of every kind, then send and confirm the blocks, round
    after round as the pipeline does (a retirement waits for its RECs' hashes)."""
    while True:
        with transaction.atomic():
            before = LedgerBlock.objects.count()
            while blocks_seal():
                pass
            new = list(LedgerBlock.objects.order_by("ledger_height")[before:])
        if not new:
            return
        _send_and_confirm(new, True)


def rec_row(source: Source, **fields) -> Rec:
    """A bare REC row (no transactions): only to show what the database refuses."""
    return Rec.objects.create(
        **{"customer": source.customer, "source": source, "production_start": T0,
           "production_end": T0, **fields}
    )  # fmt: skip


def assert_ledger_verified() -> None:
    """What verify_ledger checks holds for everything the test built."""
    with node_calls_in_the_test_transaction():
        problems = list(ledger_problems())
    assert problems == [], problems


def past_the_triggers(table: str, sql: str, params: list) -> None:
    """Write ``table`` past its append-only triggers (PostgreSQL), as someone with
    database access could: what verify_ledger must then catch."""
    with connection.cursor() as cursor:
        # Deferred foreign key checks of rows written in this transaction must run
        # first: a table with pending trigger events cannot be altered.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        cursor.execute(sql, params)
        cursor.execute(f"ALTER TABLE {table} ENABLE TRIGGER USER")
        cursor.execute("SET CONSTRAINTS ALL DEFERRED")
