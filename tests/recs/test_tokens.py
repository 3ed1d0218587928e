"""/tokens/<id>.json: the ERC-1155 metadata a wallet shows for RECs held on chain."""

import pytest
from django.test import Client

from core.units import MWH
from recs.tokens import token_id, token_origin
from tests.factories import T0, append, issue, mark_processed

pytestmark = pytest.mark.django_db


def test_a_token_id_names_its_source_and_vintage_month():
    assert token_id(12, T0.date()) == 12_201_903
    assert token_origin("12201903") == (12, T0.date().replace(day=1))
    assert token_origin(f"{12_201_903:064x}") == token_origin("12201903")
    for bad in ("0", "12201913", "12201900", "x" * 64, "12_201_903", "9" * 40):
        assert token_origin(bad) is None, bad


def test_a_wallet_reads_the_metadata_of_an_issued_vintage(source):
    source.technology, source.country = "solar_pv", "US"
    source.save()
    mark_processed(append(source, [MWH] * 3))
    issue(source, anchor=False)
    hex_id = f"{token_id(source.pk, T0.date()):064x}"  # what a wallet puts for {id}

    response = Client().get(f"/tokens/{hex_id}.json")

    assert response.status_code == 200
    metadata = response.json()
    assert metadata["name"] == f"REC {source.name} 2019-03"
    assert metadata["decimals"] == 0
    assert metadata["properties"] | {"capacity_w": None} == {
        "source_id": source.pk, "source": source.name, "technology": "solar_pv",
        "vintage": "2019-03", "unit": "1 MWh a token", "recs_issued": 3, "country": "US",
        "capacity_w": None,
    }  # fmt: skip
    assert Client().get(f"/tokens/{token_id(source.pk, T0.date())}.json").json() == metadata


def test_a_vintage_without_recs_or_a_malformed_id_is_a_404(source):
    mark_processed(append(source, [MWH] * 2))
    issue(source, anchor=False)

    for token in (token_id(source.pk, T0.date().replace(month=4)), token_id(999_999, T0.date()),
                  "nonsense"):  # fmt: skip
        response = Client().get(f"/tokens/{token}.json")
        assert (response.status_code, response.json()["error"]) == (404, "not_found")
