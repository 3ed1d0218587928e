"""GET /api/v1/energy/holdings: what an account holds, as serial-numbered bundles."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction

from chain.audit import ledger_problems
from core.units import MWH
from recs.models import Bundle
from recs.services import recs_issue_all
from tests.factories import (
    T0,
    SourceFactory,
    append,
    assert_ledger_verified,
    issue,
    mark_processed,
    node_calls_in_the_test_transaction,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/energy/holdings"


def test_issuance_puts_the_recs_in_the_issuers_account_as_one_bundle(api, source):
    source.technology, source.country = "solar_pv", "US"
    source.save()
    mark_processed(append(source, [MWH, MWH, MWH // 2]))
    issue(source)

    [bundle] = api.get(URL).json()

    assert bundle == {
        "total": 1,
        "source": {
            "id": source.pk,
            "external_id": source.external_id,
            "name": source.name,
            "technology": "solar_pv",
            "country": "US",
            "capacity": source.capacity_wh,
        },
        "first": f"{source.pk}-1",
        "last": f"{source.pk}-2",
        "quantity": 2,
        "status": "active",
        "production_start": "2019-03-15T00:00:00.000+0000",
        "production_end": "2019-03-15T01:00:00.000+0000",
    }
    assert api.get("/api/v1/energy/account").json()["held"] == 2
    assert [r["status"] for r in api.get("/api/v1/energy/recs").json()] == ["active", "active"]


def test_serials_issued_later_extend_the_bundle_they_follow(api, source):
    rows = append(source, [MWH, MWH])
    mark_processed(rows[:1])
    issue(source)
    opened = Bundle.objects.get().modified
    mark_processed(rows[1:])
    issue(source)

    [bundle] = api.get(URL).json()

    assert (bundle["first"], bundle["last"], bundle["quantity"]) == (
        f"{source.pk}-1",
        f"{source.pk}-2",
        2,
    )
    assert bundle["production_end"] == "2019-03-15T01:00:00.000+0000"
    assert Bundle.objects.get().modified > opened
    assert_ledger_verified()


def test_holdings_are_paged_and_filtered(api, customer):
    sun, wind = SourceFactory(customer=customer), SourceFactory(customer=customer)
    mark_processed(append(sun, [MWH]) + append(wind, [3 * MWH]))
    recs_issue_all()

    assert [b["quantity"] for b in api.get(URL).json()] == [1, 3]
    assert [b["quantity"] for b in api.get(URL, {"per_page": 1, "page": 1}).json()] == [3]
    assert [b["source"]["id"] for b in api.get(URL, {"source": wind.external_id}).json()] == [
        wind.pk
    ]
    assert api.get(URL, {"status": "retired"}).json() == []
    assert api.get(URL, {"status": "gone"}).json()["param"] == "status"
    assert api.get(URL, {"source": "nobody"}).json()["param"] == "source"


def test_nobody_sees_another_accounts_holdings(client_for, source):
    mark_processed(append(source, [MWH]))
    issue(source)
    stranger = client_for(SourceFactory().customer)

    assert stranger.get(URL).json() == []
    assert stranger.get(URL, {"source": source.pk}).status_code == 400


@pytest.mark.postgres
def test_bundles_keep_quantity_to_their_range_and_never_overlap(source):
    mark_processed(append(source, [2 * MWH]))
    issue(source)
    bundle = Bundle.objects.get()

    for change in ({"quantity": 3}, {"first": 0, "quantity": 3}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Bundle.objects.filter(pk=bundle.pk).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        Bundle.objects.create(account=bundle.account, source=source, first=2, last=2, quantity=1)
    assert connection.vendor == "postgresql"


def test_verify_ledger_names_a_rec_in_no_bundle(source):
    mark_processed(append(source, [2 * MWH], start=T0 + dt.timedelta(hours=1)))
    issue(source)
    # Someone with database access shortens the bundle: REC 2 is then held nowhere.
    Bundle.objects.filter(pk=Bundle.objects.get().pk).update(last=1, quantity=1)

    with node_calls_in_the_test_transaction():
        found = list(ledger_problems())

    assert f"source {source.pk}: its bundles hold serials up to 1, but 2 RECs were issued" in found
