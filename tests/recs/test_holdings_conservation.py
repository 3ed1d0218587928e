"""Random sequences of issue, transfer, answer and retire against a model of every REC.

The model keeps, serial by serial, where each REC is (account, status, pending
transfer) as the contract says it must be; after every step the bundles, expanded,
must be exactly the model, every source's RECs issued = active + in transfer +
retired, a refused step must change nothing, and verify_ledger's replay of the
history must find nothing wrong.
"""

import datetime as dt

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.exceptions import APIException

from chain import client
from core.units import MWH
from recs.accounts import account_open
from recs.audit import _history_problems
from recs.holdings import RETIRED
from recs.models import Bundle, Issuance, Transfer
from recs.retirements import retirement_create
from recs.services import rec_issue
from recs.transfers import transfer_answer, transfer_create
from tests.factories import T0, CustomerFactory, SourceFactory, append, mark_processed

pytestmark = pytest.mark.django_db

ACCOUNTS = 3
PERIOD = (dt.date(2019, 1, 1), dt.date(2019, 12, 31))

step = st.one_of(
    st.tuples(st.just("issue"), st.integers(0, 1), st.integers(1, 4)),
    st.tuples(
        st.just("send"),
        st.integers(0, ACCOUNTS - 1),
        st.integers(0, ACCOUNTS - 1),
        st.one_of(st.integers(1, 6), st.lists(st.integers(1, 12), min_size=1, max_size=3)),
        st.one_of(st.none(), st.integers(0, 1)),
    ),
    st.tuples(
        st.just("answer"),
        st.integers(0, 5),
        st.sampled_from(["accept", "reject", "recall"]),
        st.integers(0, ACCOUNTS - 1),
    ),
    st.tuples(
        st.just("retire"),
        st.integers(0, ACCOUNTS - 1),
        st.one_of(st.integers(1, 6), st.lists(st.integers(1, 12), min_size=1, max_size=3)),
        st.one_of(st.none(), st.integers(0, 1)),
    ),
)


def bundles_expanded() -> dict[tuple[int, int], tuple]:
    return {
        (b.source_id, serial): (b.account.customer_id, b.status, b.transfer_id)
        for b in Bundle.objects.select_related("account")
        for serial in range(b.first, b.last + 1)
    }


def bundles_that_meet() -> list:
    ends = {
        (b.source_id, b.account_id, b.status, b.transfer_id, b.last): b.pk
        for b in Bundle.objects.all()
    }
    return [
        b.pk
        for b in Bundle.objects.all()
        if (b.source_id, b.account_id, b.status, b.transfer_id, b.first - 1) in ends
    ]


def snapshot() -> tuple:
    return (
        sorted(Bundle.objects.values_list("source_id", "first", "last", "account_id", "status")),
        sorted(Transfer.objects.values_list("pk", "status")),
    )


class Model:
    """Where each REC must be, by (source, serial): (customer, status, transfer id)."""

    def __init__(self):
        self.place: dict[tuple[int, int], tuple] = {}
        self.transfers: dict[int, tuple[int, int, list]] = {}  # id: (sender, receiver, serials)

    def active(self, customer: int, source: int | None) -> list[tuple[int, int]]:
        return sorted(
            key
            for key, where in self.place.items()
            if where == (customer, "active", None) and source in (None, key[0])
        )


def named(picks: list[int], sources: list) -> list[tuple[int, int]]:
    """Serial picks 1..12 spread over the two sources: odd ones of the first."""
    return [(sources[p % 2].pk, (p + 1) // 2) for p in picks]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=1, max_size=14))
def test_holdings_follow_the_contract_step_by_step(steps):
    client.deployed_contract.cache_clear()
    with transaction.atomic():
        customers = [CustomerFactory(name=f"c{i}") for i in range(ACCOUNTS)]
        sources = [SourceFactory(customer=customers[i]) for i in range(2)]
        model = Model()
        hour = [0]

        for action, *args in steps:
            before = snapshot()
            expected_failure = False
            try:
                with transaction.atomic():
                    if action == "issue":
                        source, mwh = sources[args[0]], args[1]
                        start = T0 + dt.timedelta(hours=hour[0])
                        hour[0] += mwh
                        mark_processed(append(source, [MWH] * mwh, start=start))
                        n_before = _count(source)
                        rec_issue(source_id=source.pk)
                        for serial in range(n_before + 1, _count(source) + 1):
                            model.place[(source.pk, serial)] = (source.customer_id, "active", None)
                    elif action == "send":
                        frm, to, pick, src = args
                        customer = customers[frm]
                        source_id = sources[src].pk if src is not None else None
                        if isinstance(pick, int):
                            held = model.active(customer.pk, source_id)
                            moving = held[:pick]
                            expected_failure = frm == to or len(held) < pick
                            kwargs = {"quantity": pick, "source_id": source_id}
                        else:
                            moving = sorted(set(named(pick, sources)))
                            held = set(model.active(customer.pk, None))
                            expected_failure = frm == to or not set(moving) <= held
                            kwargs = {"serials": moving}
                        made = transfer_create(
                            customer=customer,
                            to=account_open(customer=customers[to]).code,
                            **kwargs,
                        )
                        assert not expected_failure
                        for key in moving:
                            model.place[key] = (customer.pk, "in_transfer", made.pk)
                        model.transfers[made.pk] = (customer.pk, customers[to].pk, moving)
                    elif action == "answer":
                        pick, answer, by = args
                        if not model.transfers:
                            continue
                        pk = sorted(model.transfers)[pick % len(model.transfers)]
                        sender, receiver, moving = model.transfers[pk]
                        party = receiver if answer in ("accept", "reject") else sender
                        pending = Transfer.objects.get(pk=pk).status == "pending"
                        expected_failure = customers[by].pk != party or not pending
                        transfer_answer(
                            customer=customers[by], transfer=Transfer.objects.get(pk=pk),
                            answer=answer,
                        )  # fmt: skip
                        assert not expected_failure
                        goes_to = receiver if answer == "accept" else sender
                        for key in moving:
                            model.place[key] = (goes_to, "active", None)
                    else:  # retire
                        who, pick, src = args
                        customer = customers[who]
                        source_id = sources[src].pk if src is not None else None
                        if isinstance(pick, int):
                            held = model.active(customer.pk, source_id)
                            moving = held[:pick]
                            expected_failure = len(held) < pick
                            kwargs = {"quantity": pick, "source_id": source_id}
                        else:
                            moving = sorted(set(named(pick, sources)))
                            expected_failure = not set(moving) <= set(
                                model.active(customer.pk, None)
                            )
                            kwargs = {"serials": moving}
                        retirement_create(
                            customer=customer, beneficiary="b", country="US",
                            period_start=PERIOD[0], period_end=PERIOD[1], **kwargs,
                        )  # fmt: skip
                        assert not expected_failure
                        for key in moving:
                            model.place[key] = (customer.pk, RETIRED, None)
            except APIException:
                assert expected_failure, f"{action} {args} was refused"
                assert snapshot() == before, "a refused step changed something"

            assert bundles_expanded() == model.place
            for source in sources:
                held = sum(
                    b.quantity for b in Bundle.objects.filter(source=source)
                )  # active + in transfer + retired
                assert held == _count(source)
            assert list(_history_problems()) == []
            assert not bundles_that_meet(), "bundles of one holder and status meet unmerged"
        transaction.set_rollback(True)


def _count(source) -> int:
    found = Issuance.objects.filter(source=source).first()
    return found.rec_count if found else 0
