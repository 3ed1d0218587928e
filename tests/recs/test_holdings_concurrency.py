"""Eight processes retiring, transferring, accepting and recalling over one holding at once.

Against PostgreSQL, each process its own connection: whatever the interleaving,
no more is taken than was held, each request succeeds whole or fails whole, of an
accept and a recall that race exactly one wins, a key sent by every process at
once answers one transfer, and no REC ends in two places.
"""

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest
from django.db import connection

from core.units import MWH
from recs.accounts import account_open
from recs.audit import _history_problems
from recs.models import Bundle, IdempotentRequest, Retirement, RetirementRange, Transfer
from recs.services import rec_issue
from tests.factories import CustomerFactory, SourceFactory, append, mark_processed

ROOT = Path(__file__).resolve().parents[2]
HELD = 60
WORKERS = 8

WORKER = textwrap.dedent(
    """
    import datetime as dt, json, random, sys, django
    django.setup()
    from django.db import connection
    from rest_framework.exceptions import APIException
    from energy.models import Customer
    from recs.idempotency import idempotent
    from recs.models import Transfer
    from recs.retirements import retirement_create
    from recs.transfers import transfer_answer, transfer_create

    seed, code = int(sys.argv[1]), sys.argv[4]
    seller, buyer = (Customer.objects.get(pk=int(pk)) for pk in sys.argv[2:4])
    rnd = random.Random(seed)

    def say(**fields):
        print(json.dumps(fields), flush=True)

    # Every process sends the same key and body at once: one transfer must answer all.
    def once():
        made = transfer_create(customer=seller, to=code, quantity=1)
        return 201, {"id": made.pk}
    status, body = idempotent(customer=seller, key="shared", fingerprint="f", respond=once)
    say(op="shared", id=body["id"])

    for _ in range(25):
        op = rnd.choice(["send", "send", "retire", "accept", "recall", "reject"])
        try:
            if op == "send":
                made = transfer_create(customer=seller, to=code, quantity=rnd.randint(1, 6))
                say(op=op, ok=True, id=made.pk, quantity=made.quantity)
            elif op == "retire":
                made = retirement_create(
                    customer=seller, beneficiary="b", country="US",
                    period_start=dt.date(2019, 1, 1), period_end=dt.date(2019, 12, 31),
                    quantity=rnd.randint(1, 6))
                say(op=op, ok=True, id=made.pk, quantity=made.quantity)
            else:
                pending = list(Transfer.objects.filter(status="pending").order_by("pk")
                               .values_list("pk", flat=True))
                if not pending:
                    continue
                pk = pending[rnd.randrange(len(pending))]
                who = seller if op == "recall" else buyer
                transfer_answer(customer=who, transfer=Transfer.objects.get(pk=pk), answer=op)
                say(op=op, ok=True, id=pk)
        except APIException as refused:
            say(op=op, ok=False, error=refused.default_code)
    connection.close()
    """
)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_eight_processes_never_take_more_than_was_held():
    seller = CustomerFactory(name="Seller")
    buyer = CustomerFactory(name="Buyer")
    source = SourceFactory(customer=seller)
    mark_processed(append(source, [MWH] * HELD))
    assert rec_issue(source_id=source.pk) == HELD
    code = account_open(customer=buyer).code
    env = os.environ | {
        "DATABASE_URL": f"postgresql://127.0.0.1:5432/{connection.settings_dict['NAME']}"
    }

    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(seed), str(seller.pk), str(buyer.pk), code],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in range(WORKERS)
    ]
    outputs = [w.communicate(timeout=120) for w in workers]
    assert all(w.returncode == 0 for w in workers), [err[-2000:] for _, err in outputs]
    said = [json.loads(line) for out, _ in outputs for line in out.splitlines()]

    # One key sent by eight processes at once: one transfer, one stored answer.
    assert len({s["id"] for s in said if s["op"] == "shared"}) == 1
    assert IdempotentRequest.objects.count() == 1
    # Each transfer and retirement is whole: its ranges add up to its quantity, which
    # is what its request asked.
    made = {(s["op"], s["id"]): s["quantity"] for s in said if s.get("ok") and "quantity" in s}
    for transfer in Transfer.objects.prefetch_related("ranges"):
        assert sum(r.quantity for r in transfer.ranges.all()) == transfer.quantity
        assert made.get(("send", transfer.pk), 1) == transfer.quantity
    for retirement in Retirement.objects.prefetch_related("ranges"):
        assert sum(r.quantity for r in retirement.ranges.all()) == retirement.quantity
        assert made[("retire", retirement.pk)] == retirement.quantity
    # Of the answers that raced over one transfer, exactly one won, and it is its status.
    wins = Counter(s["id"] for s in said if s["op"] in ("accept", "recall", "reject") and s["ok"])
    assert all(n == 1 for n in wins.values()), wins
    for transfer_id in wins:
        assert Transfer.objects.get(pk=transfer_id).status != "pending"
    answered = Transfer.objects.exclude(status="pending").values_list("pk", flat=True)
    assert set(answered) == set(wins)
    # Nothing taken beyond what was held; every REC in exactly one place.
    retired = sum(RetirementRange.objects.values_list("quantity", flat=True))
    assert retired == sum(
        Bundle.objects.filter(status="retired").values_list("quantity", flat=True)
    )
    serials = sorted(
        s for b in Bundle.objects.filter(source=source) for s in range(b.first, b.last + 1)
    )
    assert serials == list(range(1, HELD + 1))
    assert list(_history_problems()) == []
    refusals = Counter(s["error"] for s in said if s.get("ok") is False)
    assert set(refusals) <= {"insufficient_holdings", "transfer_not_pending"}, refusals
    assert any(s.get("ok") for s in said if s["op"] in ("send", "retire"))
