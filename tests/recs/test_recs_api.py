"""GET /api/v1/energy/recs and /recs/{id}: spec sections 4 and 5."""

import pytest

from core.units import MWH
from tests.factories import SourceFactory, append, issue, mark_processed

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_recs(source):
    """0.9 + 0.1012 MWh: REC 1 takes 0.1 of the second and 1.2 kWh open REC 2."""
    attrs = append(source, [900_000_000, 101_200_000, 998_800_000])
    mark_processed(attrs[:2])
    [first] = issue(source)  # issued, anchored and confirmed
    mark_processed(attrs[2:])
    [second] = issue(source, anchor=False)  # issued, not sealed yet
    return first, second, attrs


def test_recs_newest_first_with_the_spec_fields(api, two_recs):
    first, second, _ = two_recs

    body = api.get("/api/v1/energy/recs").json()

    assert [r["id"] for r in body] == [second.pk, first.pk]
    assert body[0] == {
        "total": 2,
        "id": second.pk,
        "created": body[0]["created"],
        "modified": body[0]["modified"],
        "state": "New",
        "value": 1.0,
        "serial": f"{second.source_id}-2",
        "status": "active",
    }
    assert set(body[1]) == {
        "total",
        "created",
        "hash",
        "height",
        "id",
        "modified",
        "serial",
        "state",
        "status",
        "state_changed",
        "value",
    }
    assert body[1]["serial"] == f"{first.source_id}-1"


def test_rec_pages_are_ranges_of_the_customers_recs(api, source):
    mark_processed(append(source, [MWH] * 5))
    recs = issue(source, anchor=False)

    pages = [api.get("/api/v1/energy/recs", {"page": p, "per_page": 2}).json() for p in range(4)]

    assert [[r["id"] for r in page] for page in pages] == [
        [recs[4].pk, recs[3].pk],
        [recs[2].pk, recs[1].pk],
        [recs[0].pk],
        [],
    ]


def test_rec_detail_lists_its_transactions_incoming_remainder_first(api, two_recs):
    first, second, attrs = two_recs

    body = api.get(f"/api/v1/energy/recs/{second.pk}").json()

    assert body["code"] == 0 and body["id"] == second.pk and body["value"] == 1.0
    incoming, member = body["transactions"]
    assert incoming == {
        "block_id": "remainder",
        "created": incoming["created"],
        "effective_time": "2019-03-15T01:00:00.000+0000",
        "external_id": incoming["external_id"],
        "id": incoming["id"],
        "modified": incoming["modified"],
        "state": "Processed",
        "value": 0.0012,
    }
    assert member["id"] == attrs[2].pk and member["value"] == 0.9988
    assert "rec" not in member
    # The split transaction closes the first REC with its remainder.
    closing = api.get(f"/api/v1/energy/recs/{first.pk}").json()["transactions"][-1]
    assert closing["remainder"] == 0.0012 and closing["value"] == 0.1012


def test_rec_detail_pages_its_transactions(api, source):
    attrs = append(source, [MWH // 4] * 4)
    mark_processed(attrs)
    [rec] = issue(source)

    page = api.get(f"/api/v1/energy/recs/{rec.pk}", {"page": 1, "per_page": 3}).json()

    assert [t["id"] for t in page["transactions"]] == [attrs[3].pk]


def test_another_customers_rec_is_404_like_a_missing_one(api, client_for, two_recs):
    first, _, _ = two_recs
    stranger = client_for(SourceFactory().customer)

    theirs = stranger.get(f"/api/v1/energy/recs/{first.pk}")
    missing = api.get("/api/v1/energy/recs/999999999")

    assert theirs.status_code == missing.status_code == 404
    assert theirs.json().keys() == missing.json().keys()
    assert stranger.get("/api/v1/energy/recs").json() == []


@pytest.mark.parametrize("rec_id", ["abc", "-1", "1.5", "99999999999999999999999", "%C3%A9"])
def test_a_malformed_rec_id_is_404(api, rec_id):
    response = api.get(f"/api/v1/energy/recs/{rec_id}")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_detail_costs_a_bounded_number_of_queries(api, two_recs, django_assert_max_num_queries):
    _, second, _ = two_recs

    # token, REC and its opener, its spans, transactions, its bundle
    with django_assert_max_num_queries(5):
        api.get(f"/api/v1/energy/recs/{second.pk}")


def test_the_list_costs_a_bounded_number_of_queries(api, source, django_assert_max_num_queries):
    mark_processed(append(source, [MWH] * 30))
    issue(source)

    # token with its customer, its REC count, one page, the page's bundles
    with django_assert_max_num_queries(4):
        assert len(api.get("/api/v1/energy/recs", {"per_page": 1000}).json()) == 30


def test_a_rec_proof_names_where_each_part_of_its_energy_comes_from(api, two_recs, client_for):
    first, second, attrs = two_recs

    body = api.get(f"/api/v1/energy/recs/{second.pk}/proof")
    assert body.status_code == 409 and body.json()["error"] == "not_anchored"  # not sealed yet
    proof = api.get(f"/api/v1/energy/recs/{first.pk}/proof").json()

    members = proof["leaf_fields"]["members"]
    assert [(m["attribution_id"], m["taken"]) for m in members] == [
        (attrs[0].pk, 900_000_000),
        (attrs[1].pk, 100_000_000),
    ]
    attrs[0].refresh_from_db()
    assert members[0]["leaf"] == "0x" + attrs[0].hash
    assert proof["leaf"] == "0x" + first.__class__.objects.get(pk=first.pk).hash
    assert proof["status"] == "confirmed" and proof["chain_block_number"] >= 0
    stranger = client_for(SourceFactory().customer)
    assert stranger.get(f"/api/v1/energy/recs/{first.pk}/proof").status_code == 404
    assert api.get(f"/api/v1/energy/recs/{'9' * 4301}/proof").status_code == 404
