"""Who sees and answers what across the lifecycle endpoints: every endpoint x every party.

A seller issued RECs 1..4, retired 1 and sent 2..3 to a buyer (pending). A stranger
holds nothing of theirs. Nobody sees another's holdings, transfers or retirements:
a 404, as for a missing object; the wrong party of a transfer gets a 403.
"""

import pytest

from core.units import MWH
from recs.models import Rec
from tests.factories import CustomerFactory, append, issue, mark_processed

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(client_for, customer, source):
    mark_processed(append(source, [MWH] * 4))
    issue(source, anchor=False)
    parties = {
        "seller": client_for(customer),
        "buyer": client_for(CustomerFactory(name="Buyer")),
        "stranger": client_for(CustomerFactory(name="Stranger")),
    }
    to = parties["buyer"].get("/api/v1/energy/account").json()["account"]
    seller = parties["seller"]
    transfer = seller.post(
        "/api/v1/energy/transfers",
        {"to": to, "recs": [f"{source.pk}-2", f"{source.pk}-3"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="t",
    ).json()
    retirement = seller.post(
        "/api/v1/energy/retirements",
        {"beneficiary": "B", "country": "US", "period_start": "2019-03-15",
         "period_end": "2019-03-15", "recs": [f"{source.pk}-1"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="r",
    ).json()  # fmt: skip
    ids = {
        "t": transfer["id"],
        "r": retirement["id"],
        "s": source.pk,
        "rec2": Rec.objects.get(source=source, serial=2).pk,
    }
    return parties, ids


E = "/api/v1/energy"
MATRIX = [
    ("get", E + "/transfers/{t}", {"seller": 200, "buyer": 200, "stranger": 404}),
    ("post", E + "/transfers/{t}/accept", {"seller": 403, "stranger": 404}),
    ("post", E + "/transfers/{t}/reject", {"seller": 403, "stranger": 404}),
    ("post", E + "/transfers/{t}/recall", {"buyer": 403, "stranger": 404}),
    ("get", E + "/retirements/{r}", {"seller": 200, "buyer": 404, "stranger": 404}),
    ("get", E + "/recs/{rec2}", {"seller": 200, "buyer": 404, "stranger": 404}),
    ("get", E + "/recs/{rec2}/proof", {"seller": 409, "buyer": 404, "stranger": 404}),
    ("get", E + "/holdings?source={s}", {"seller": 200, "buyer": 400, "stranger": 400}),
]


@pytest.mark.parametrize(
    ("method", "path", "party", "status"),
    [(m, p, party, status) for m, p, by in MATRIX for party, status in by.items()],
)
def test_each_party_sees_and_answers_only_what_is_theirs(world, method, path, party, status):
    parties, ids = world

    response = getattr(parties[party], method)(path.format(**ids))

    assert response.status_code == status, response.json()


def test_lists_show_only_ones_own(world):
    parties, ids = world

    assert [t["id"] for t in parties["buyer"].get(E + "/transfers").json()] == [ids["t"]]
    assert parties["stranger"].get(E + "/transfers").json() == []
    assert parties["buyer"].get(E + "/retirements").json() == []
    assert parties["stranger"].get(E + "/holdings").json() == []
    assert parties["buyer"].get(E + "/holdings").json() == []  # not accepted yet


def test_nobody_moves_what_another_holds(world):
    parties, ids = world
    stranger = parties["stranger"]
    to = parties["seller"].get(E + "/account").json()["account"]

    by_source = stranger.post(E + "/transfers", {"to": to, "source": str(ids["s"]), "quantity": 1},
                              format="json", HTTP_IDEMPOTENCY_KEY="x1")  # fmt: skip
    by_serial = stranger.post(E + "/transfers", {"to": to, "recs": [f"{ids['s']}-4"]},
                              format="json", HTTP_IDEMPOTENCY_KEY="x2")  # fmt: skip

    assert (by_source.status_code, by_source.json()["error"]) == (404, "not_found")
    assert (by_serial.status_code, by_serial.json()["error"]) == (409, "insufficient_holdings")
