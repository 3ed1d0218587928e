"""GET /api/v1/energy/attributions/{deviceId}: spec section 2."""

import re

import pytest

from chain.models import LedgerBlock
from core.units import MWH
from tests.factories import SourceFactory, append, issue, mark_pending, mark_processed

pytestmark = pytest.mark.django_db

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")


def url(device) -> str:
    return f"/api/v1/energy/attributions/{device}"


def test_a_new_transaction_has_only_the_fields_it_has_a_value_for(api, source):
    append(source, [12_312_000])

    body = api.get(url(source.external_id)).json()

    assert body == [
        {
            "total": 1,
            "id": body[0]["id"],
            "created": body[0]["created"],
            "modified": body[0]["modified"],
            "external_id": body[0]["external_id"],
            "effective_time": "2019-03-15T00:00:00.000+0000",
            "value": 0.012312,
            "state": "New",
        }
    ]
    assert TIMESTAMP.match(body[0]["created"]) and TIMESTAMP.match(body[0]["modified"])


def test_a_processed_transaction_in_a_rec_carries_the_spec_fields(api, source):
    attrs = append(source, [900 * 10**6, 101_200_000])
    mark_processed(attrs)
    [rec] = issue(source)
    block = LedgerBlock.objects.get(kind="attributions")

    body = api.get(url(source.pk)).json()

    newest = body[0]
    assert set(newest) == {
        "total",
        "block_id",
        "created",
        "effective_time",
        "external_id",
        "hash",
        "height",
        "id",
        "modified",
        "rec",
        "state",
        "state_changed",
        "value",
        "remainder",
    }
    assert newest["value"] == 0.1012
    assert newest["remainder"] == 0.0012
    assert newest["state"] == "Processed"
    assert newest["height"] == block.chain_block_number
    assert re.fullmatch(r"[0-9a-f]{64}", newest["hash"])
    assert newest["block_id"] == block.chain_block_hash
    assert TIMESTAMP.match(newest["state_changed"])
    assert newest["rec"] == {
        "created": newest["rec"]["created"],
        "hash": newest["rec"]["hash"],
        "height": LedgerBlock.objects.get(kind="recs").chain_block_number,
        "id": rec.pk,
        "modified": newest["rec"]["modified"],
        "state": "Processed",
        "state_changed": newest["rec"]["state_changed"],
        "value": 1.0,
        "serial": f"{rec.source_id}-1",
    }
    assert "remainder" not in body[1]  # no remainder left on the first one


def test_a_pending_transaction_shows_its_hash_but_no_block_yet(api, source):
    mark_pending(append(source, [5]))

    [row] = api.get(url(source.pk)).json()

    assert row["state"] == "Pending"
    assert "hash" in row
    assert "height" not in row and "block_id" not in row and "rec" not in row


def test_values_are_exact_decimal_mwh(api, source):
    values = [12_312_000, -29_167, MWH, 1, 123_456_789_012_345_678, -(2**63) + 1]
    append(source, values)

    raw = api.get(url(source.pk), {"per_page": 10}).content.decode()

    for text in [
        "0.012312",
        "-0.000029167",
        "1.0",
        "0.000000001",
        "123456789.012345678",
        "-9223372036.854775807",
    ]:
        assert f'"value":{text},' in raw
    assert "0.012312000000000001" not in raw


def test_carbon_offset_is_value_times_the_sources_emission_factor(api, customer):
    source = SourceFactory(customer=customer, emission_factor="0.907812")
    append(source, [12_290_000, -29_167])

    rows = api.get(url(source.pk)).json()

    # 12.29 kWh x 0.907812 t/MWh = 11157.009... g, kept to the mg
    assert rows[1]["carbon_offset"] == 0.011157009
    assert rows[0]["carbon_offset"] == -0.000026478


def test_newest_first_with_total_on_every_element(api, source):
    append(source, list(range(1, 8)))

    body = api.get(url(source.pk), {"per_page": 3}).json()

    assert [r["effective_time"][11:13] for r in body] == ["06", "05", "04"]
    assert {r["total"] for r in body} == {7}


def test_pages_walk_the_whole_list_once_then_answer_empty(api, source):
    attrs = append(source, list(range(1, 8)))

    seen = []
    for page in range(4):
        seen += [r["id"] for r in api.get(url(source.pk), {"page": page, "per_page": 3}).json()]

    assert seen == [a.pk for a in reversed(attrs)]
    assert api.get(url(source.pk), {"page": 3, "per_page": 3}).json() == []
    assert api.get(url(source.pk), {"page": 10**12}).json() == []


def test_default_page_size_is_25(api, source):
    append(source, list(range(1, 31)))

    assert len(api.get(url(source.pk)).json()) == 25


def test_device_id_is_the_internal_or_the_external_id(api, source):
    append(source, [1])

    by_id = api.get(url(source.pk)).json()
    by_external = api.get(url(source.external_id)).json()

    assert by_id == by_external and len(by_id) == 1


def test_an_internal_id_wins_over_a_numeric_external_id(api, customer):
    first = SourceFactory(customer=customer)
    SourceFactory(customer=customer, external_id=str(first.pk + 1000))
    second_by_id = SourceFactory(customer=customer)
    append(first, [7])

    assert api.get(url(first.pk)).json()[0]["value"] == 0.000000007
    assert api.get(url(second_by_id.pk)).json() == []


def test_an_unknown_device_is_404(api, source):
    response = api.get(url("no-such-device"))

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_bounded_number_of_queries_whatever_the_page_size(
    api, source, django_assert_max_num_queries
):
    mark_processed(append(source, [MWH // 2] * 40))
    issue(source, anchor=False)  # 20 RECs of two transactions each

    with django_assert_max_num_queries(4):  # token, source, one page, the spans with their RECs
        rows = api.get(url(source.pk), {"per_page": 1000}).json()

    assert len(rows) == 40 and all("rec" in r for r in rows)
