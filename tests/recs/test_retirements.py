"""POST /retirements: RECs claimed for a beneficiary, once, under the vintage rule."""

import datetime as dt

import pytest
from django.db import IntegrityError, transaction

from chain.audit import ledger_problems
from core.units import MWH
from recs.models import Bundle, IdempotentRequest, Retirement, RetirementRange
from tests.factories import (
    T0,
    CustomerFactory,
    anchor_all,
    append,
    assert_ledger_verified,
    issue,
    mark_processed,
    node_calls_in_the_test_transaction,
    past_the_triggers,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/energy/retirements"
DAY = str(T0.date())  # 2019-03-15: every hour of the fixture's RECs


@pytest.fixture
def holder(customer, source):
    """The source's customer, holding RECs 1..5 of it, made 00:00-04:00 on 2019-03-15."""
    mark_processed(append(source, [MWH] * 5))
    issue(source, anchor=False)
    return customer


def claim(**fields) -> dict:
    return {
        "beneficiary": "Acme Bakery Ltd",
        "purpose": "2019 Scope 2 market-based",
        "country": "US",
        "period_start": DAY,
        "period_end": DAY,
        **fields,
    }


def retire(api, body: dict, key: str = "r1"):
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def holdings(api) -> list[tuple[str, str, str]]:
    return [(b["first"], b["last"], b["status"]) for b in api.get("/api/v1/energy/holdings").json()]


def everything() -> tuple:
    return (
        sorted(Bundle.objects.values_list("account_id", "first", "last", "status")),
        Retirement.objects.count(),
        RetirementRange.objects.count(),
        IdempotentRequest.objects.count(),
    )


def test_a_retirement_claims_the_oldest_recs_for_good(api, holder, source):
    s = source.pk

    made = retire(api, claim(quantity=2))

    assert made.status_code == 201, made.json()
    body = made.json()
    assert body == {
        "id": body["id"],
        "quantity": 2,
        "bundles": [{"source": s, "first": f"{s}-1", "last": f"{s}-2", "quantity": 2}],
        "beneficiary": "Acme Bakery Ltd",
        "purpose": "2019 Scope 2 market-based",
        "country": "US",
        "period_start": DAY,
        "period_end": DAY,
        "created": body["created"],
        "statement": body["statement"],
        "state": "New",
    }
    statement = Retirement.objects.get().statement
    assert body["statement"] == f"http://testserver/statements/{statement}"
    assert len(statement) >= 22  # 128 random bits: not to be guessed
    assert holdings(api) == [(f"{s}-1", f"{s}-2", "retired"), (f"{s}-3", f"{s}-5", "active")]
    account = api.get("/api/v1/energy/account").json()
    assert (account["held"], account["retired"]) == (3, 2)
    assert api.get(f"{URL}/{body['id']}").json() == body
    [listed] = api.get(URL).json()
    assert listed == {"total": 1, **body}
    assert_ledger_verified()


def test_retired_recs_never_move_again(api, client_for, holder, source):
    retire(api, claim(recs=[f"{source.pk}-3"]))
    before = everything()
    buyer = client_for(CustomerFactory(name="Buyer"))
    to = buyer.get("/api/v1/energy/account").json()["account"]

    again = retire(api, claim(recs=[f"{source.pk}-3"]), key="r2")
    sent = api.post(
        "/api/v1/energy/transfers",
        {"to": to, "recs": [f"{source.pk}-3"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="t1",
    )

    assert again.json()["error"] == sent.json()["error"] == "insufficient_holdings"
    assert everything() == before


def test_only_recs_produced_inside_the_period_are_eligible(api, customer):
    source = customer.sources.create(
        external_id="late", name="Late", client_id="0x" + "ab" * 32, capacity_wh=10**6
    )
    # Five hours from 22:00 on the 15th: RECs 1-2 are the 15th's, 3-5 the 16th's.
    mark_processed(append(source, [MWH] * 5, start=T0 + dt.timedelta(hours=22)))
    issue(source, anchor=False)
    s, day2 = source.pk, "2019-03-16"

    made = retire(api, claim(quantity=3, period_start=day2, period_end=day2))
    refused = retire(api, claim(quantity=1, period_start=day2, period_end=day2), key="r2")
    named = retire(api, claim(recs=[f"{s}-1"], period_start=day2, period_end=day2), key="r3")

    assert made.status_code == 201
    assert [(b["first"], b["last"]) for b in made.json()["bundles"]] == [(f"{s}-3", f"{s}-5")]
    assert refused.status_code == named.status_code == 409
    assert "outside the period" in named.json()["message"]
    assert holdings(api) == [(f"{s}-1", f"{s}-2", "active"), (f"{s}-3", f"{s}-5", "retired")]


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"beneficiary": ""}, "beneficiary"),
        ({"beneficiary": "x" * 201}, "beneficiary"),
        ({"beneficiary": None}, "beneficiary"),
        ({"purpose": "x" * 501}, "purpose"),
        ({"country": "XX"}, "country"),
        ({"country": "USA"}, "country"),
        ({"period_start": "2019-13-01"}, "period_start"),
        ({"period_end": "2019-03-14"}, "period_end"),
        ({"quantity": -1}, "quantity"),
        ({"quantity": None}, "quantity"),
    ],
)
def test_a_malformed_claim_changes_nothing(api, holder, fields, param):
    before = everything()

    refused = retire(api, claim(quantity=1) | fields)

    assert refused.status_code == 400
    assert (refused.json()["error"], refused.json()["param"]) == ("invalid_parameter", param)
    assert everything() == before


def test_a_claim_needs_its_period(api, holder):
    body = claim(quantity=1)
    del body["period_end"]

    refused = retire(api, body)

    assert refused.json()["param"] == "period_end"


def test_the_same_key_answers_the_first_retirement(api, holder):
    first = retire(api, claim(quantity=1), key="same")

    again = retire(api, claim(quantity=1), key="same")
    other = retire(api, claim(quantity=2), key="same")

    assert again.json() == first.json()
    assert other.json()["error"] == "idempotency_key_reused"
    assert Retirement.objects.count() == 1


def test_nobody_else_sees_a_retirement(api, client_for, holder):
    made = retire(api, claim(quantity=1)).json()
    stranger = client_for(CustomerFactory(name="Stranger"))

    assert stranger.get(f"{URL}/{made['id']}").status_code == 404
    assert stranger.get(URL).json() == []


def test_a_retirement_is_sealed_and_anchored_after_its_recs(api, holder):
    made = retire(api, claim(quantity=2)).json()

    anchor_all()

    shown = api.get(f"{URL}/{made['id']}").json()
    assert shown["state"] == "Processed"
    assert len(shown["hash"]) == 64
    assert_ledger_verified()


@pytest.mark.postgres
def test_verify_ledger_names_a_rewritten_claim(api, holder):
    made = retire(api, claim(quantity=2)).json()
    anchor_all()
    past_the_triggers(
        "recs_retirement",
        "UPDATE recs_retirement SET beneficiary = %s WHERE id = %s",
        ["Someone Else", made["id"]],
    )

    with node_calls_in_the_test_transaction():
        found = list(ledger_problems())

    assert any(p.startswith(f"retirement {made['id']}: its claim and RECs") for p in found)


def test_the_database_refuses_to_rewrite_a_retirement(api, holder):
    made = retire(api, claim(quantity=2)).json()

    for change in ({"beneficiary": "Someone Else"}, {"quantity": 1}, {"country": "FR"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Retirement.objects.filter(pk=made["id"]).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        RetirementRange.objects.filter(retirement_id=made["id"]).delete()
