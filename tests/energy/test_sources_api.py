"""GET /api/v1/energy/sources: spec section 1."""

import pytest

from core.units import MWH
from tests.factories import SourceFactory, append, issue, mark_pending, mark_processed

pytestmark = pytest.mark.django_db

URL = "/api/v1/energy/sources"


def test_a_source_with_a_parent_as_in_the_spec(api, customer):
    site = SourceFactory(customer=customer, name="Hill Valley Site", node_type="site", type="site")
    meter = SourceFactory(customer=customer, name="Hill Valley Site - Revenue Meter", parent=site)

    body = api.get(URL).json()

    assert [s["id"] for s in body] == [site.pk, meter.pk]
    assert "parent" not in body[0]
    assert body[1] == {
        "total": 2,
        "id": meter.pk,
        "created": body[1]["created"],
        "modified": body[1]["modified"],
        "name": "Hill Valley Site - Revenue Meter",
        "external_id": meter.external_id,
        "node_type": "meter",
        "state": "active",
        "type": "solar",
        "technology": "other",
        "capacity": 10_000_000,
        "parent": {
            "id": site.pk,
            "created": body[0]["created"],
            "external_id": site.external_id,
            "modified": body[0]["modified"],
            "name": "Hill Valley Site",
            "node_type": "site",
            "state": "active",
            "type": "site",
        },
        "rec_number": 0,
        "rec_sum": 0.0,
        "new_number": 0,
        "new_sum": 0.0,
        "without_rec_number": 0,
        "without_rec_sum": 0.0,
    }


def test_the_six_counters_partition_the_transactions(api, source):
    """rec: linked to a REC; without_rec: Processed, no REC; new: not yet Processed."""
    in_rec = append(source, [MWH // 2, MWH // 2 + 436_789])
    processed = append(source, [331_558_000], start=in_rec[-1].effective_time.replace(hour=5))
    pending = append(source, [7], start=processed[-1].effective_time.replace(hour=6))
    new = append(source, [-29_167, 0], start=pending[-1].effective_time.replace(hour=7))
    mark_processed(in_rec + processed)
    mark_pending(pending)
    issue(source)  # one REC; the second transaction carries 436,789 mWh forward

    [row] = api.get(URL).json()

    assert (row["rec_number"], row["rec_sum"]) == (2, 1.000436789)
    assert (row["without_rec_number"], row["without_rec_sum"]) == (1, 0.331558)
    assert (row["new_number"], row["new_sum"]) == (3, -0.00002916)
    assert len(new) == 2


def test_pages_by_id_and_total_is_the_customers_count(api, customer):
    sources = [SourceFactory(customer=customer) for _ in range(5)]

    page1 = api.get(URL, {"page": 1, "per_page": 2}).json()

    assert [s["id"] for s in page1] == [sources[2].pk, sources[3].pk]
    assert {s["total"] for s in page1} == {5}
    assert api.get(URL, {"page": 3, "per_page": 2}).json() == []


def test_a_customer_sees_only_its_own_sources(api, customer, client_for):
    mine = SourceFactory(customer=customer)
    theirs = SourceFactory()

    assert [s["id"] for s in api.get(URL).json()] == [mine.pk]
    assert [s["id"] for s in client_for(theirs.customer).get(URL).json()] == [theirs.pk]


def test_the_list_costs_a_bounded_number_of_queries(api, customer, django_assert_max_num_queries):
    site = SourceFactory(customer=customer)
    for _ in range(30):
        SourceFactory(customer=customer, parent=site)

    with django_assert_max_num_queries(3):  # token, count, one page with parents
        assert len(api.get(URL, {"per_page": 100}).json()) == 31


def test_a_source_carries_what_its_certificates_will_name(api, customer):
    import datetime as dt

    SourceFactory(
        customer=customer, technology="wind_offshore", country="DK",
        commissioned=dt.date(2019, 6, 1), latitude="55.695000", longitude="7.672000",
    )  # fmt: skip

    [row] = api.get(URL).json()

    assert (row["technology"], row["country"], row["commissioned"]) == (
        "wind_offshore",
        "DK",
        "2019-06-01",
    )
    assert (row["latitude"], row["longitude"], row["capacity"]) == (55.695, 7.672, 10_000_000)
