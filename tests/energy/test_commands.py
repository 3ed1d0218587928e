"""create_customer and create_source, as scripts call them."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from energy.models import Source

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_create_customer_prints_a_working_token_on_the_last_line():
    token = run("create_customer", "Hill Valley Energy")[-1]

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/energy/sources").json() == []
    assert token.startswith("0x") and len(token) == 66


def test_create_customer_refuses_a_duplicate_name():
    run("create_customer", "Hill Valley Energy")

    with pytest.raises(CommandError, match="already exists"):
        run("create_customer", "Hill Valley Energy")


def test_create_source_prints_one_json_object_on_the_last_line():
    run("create_customer", "Acme")
    site = json.loads(
        run(
            "create_source",
            "--customer",
            "Acme",
            "--external-id",
            "site-1",
            "--name",
            "Site",
            "--type",
            "site",
            "--node-type",
            "site",
        )[-1]
    )

    meter = json.loads(
        run(
            "create_source",
            "--customer",
            "Acme",
            "--external-id",
            "5c38b26915d03d01774f0921",
            "--name",
            "Hill Valley Site - Revenue Meter",
            "--parent",
            "site-1",
            "--capacity-wh",
            "5000",
            "--location",
            "USA/California/Los Angeles",
            "--miner-address",
            "0x1134e1FEcA30FE9EAF77222b30C6CC571b33CD52",
            "--emission-factor",
            "0.907812",
            "--technology",
            "solar_pv",
            "--country",
            "us",
            "--latitude",
            "34.05",
            "--longitude",
            "-118.25",
        )[-1]
    )

    stored = Source.objects.get(pk=meter["id"])
    assert meter["external_id"] == "5c38b26915d03d01774f0921"
    assert meter["client_id"] == stored.client_id and len(stored.client_id) == 66
    assert stored.parent_id == site["id"]
    assert stored.miner_address == "0x1134e1feca30fe9eaf77222b30c6cc571b33cd52"
    assert (stored.capacity_wh, str(stored.emission_factor)) == (5000, "0.907812")
    assert (stored.technology, stored.country) == ("solar_pv", "US")
    assert (str(stored.latitude), str(stored.longitude)) == ("34.050000", "-118.250000")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--customer", "Acme", "--external-id", "x", "--name", "n"], "needs a capacity"),
        (["--customer", "Nobody", "--external-id", "x", "--name", "n"], "unknown customer"),
        (["--customer", "Acme", "--external-id", "dup", "--name", "n"], "already exists"),
        (
            ["--customer", "Acme", "--external-id", "x", "--name", "n", "--miner-address", "0x12"],
            "40 hex digits",
        ),
        (
            ["--customer", "Acme", "--external-id", "x", "--name", "n", "--parent", "ghost"],
            "unknown parent",
        ),
        (
            ["--customer", "Acme", "--external-id", "x", "--name", "n", "--capacity-wh", "-3"],
            "positive integer",
        ),
        (
            ["--customer", "Acme", "--external-id", "x", "--name", "n", "--emission-factor", "abc"],
            "not a number",
        ),
        (
            [
                "--customer",
                "Acme",
                "--external-id",
                "x",
                "--name",
                "n",
                "--commissioned",
                "2024-13",
            ],
            "commissioning date must be YYYY-MM-DD",
        ),
        (
            [
                "--customer",
                "Acme",
                "--external-id",
                "x",
                "--name",
                "n",
                "--commissioned",
                "2999-01-01",
            ],
            "must not be in the future",
        ),
        (
            ["--customer", "Acme", "--external-id", "x", "--name", "n", "--country", "XX"],
            "ISO 3166-1 alpha-2",
        ),
        (
            ["--customer", "Acme", "--external-id", "x", "--name", "n", "--latitude", "45"],
            "both latitude and longitude",
        ),
        (
            [
                "--customer",
                "Acme",
                "--external-id",
                "x",
                "--name",
                "n",
                "--latitude",
                "91",
                "--longitude",
                "0",
            ],
            "latitude must be between -90 and 90",
        ),
    ],
)
def test_create_source_refuses_bad_input_and_creates_nothing(args, message):
    run("create_customer", "Acme")
    run("create_source", "--customer", "Acme", "--external-id", "dup", "--name", "n",
        "--capacity-wh", "1000")  # fmt: skip
    if message != "needs a capacity" and "--capacity-wh" not in args:
        args = [*args, "--capacity-wh", "1000"]

    with pytest.raises(CommandError, match=message):
        run("create_source", *args)

    assert Source.objects.count() == 1


def test_a_miner_address_is_onboarded_once_whatever_its_letter_case():
    run("create_customer", "Acme")
    address = "0x1134e1FEcA30FE9EAF77222b30C6CC571b33CD52"
    run(
        "create_source",
        "--customer",
        "Acme",
        "--external-id",
        "a",
        "--name",
        "n",
        "--miner-address",
        address,
        "--capacity-wh",
        "1000",
    )

    with pytest.raises(CommandError, match="already onboarded"):
        run(
            "create_source",
            "--customer",
            "Acme",
            "--external-id",
            "b",
            "--name",
            "n",
            "--miner-address",
            address.lower(),
            "--capacity-wh",
            "1000",
        )
