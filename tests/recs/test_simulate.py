"""The demo: `manage.py simulate` shows the main job end to end."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from rest_framework.test import APIClient

from energy.models import Attribution, Source
from recs.models import Rec, Remainder, Retirement

pytestmark = pytest.mark.django_db(transaction=True)


def test_simulate_feeds_signed_reports_and_leaves_recs_with_remainders(chain):
    out = StringIO()

    call_command("simulate", days=2, stdout=out)

    lines = out.getvalue().splitlines()
    token = lines[-1]
    assert lines[0].endswith("signed reports")
    assert any(line.startswith("demo ready") for line in lines)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    sources = {s["external_id"]: s for s in api.get("/api/v1/energy/sources").json()}
    assert sources["sunny-hill-array-a"]["rec_number"] > 0
    assert sources["sunny-hill-load"]["new_sum"] < 0  # consumption stays New
    big_hours = Attribution.objects.filter(
        source__external_id="sunny-hill-array-a", value__gt=10**9
    )
    assert big_hours.exists()  # hours of more than 1 MWh
    assert Remainder.objects.exists()
    assert set(Rec.objects.values_list("state", flat=True)) == {"Processed"}
    assert Source.objects.filter(type="consumer").count() == 1
    # A second customer bought RECs and retired some: its statement is public.
    [said] = [line for line in lines if "statement /statements/" in line]
    retirement = Retirement.objects.get()
    assert said.endswith(f"statement /statements/{retirement.statement}")
    assert (retirement.beneficiary, retirement.quantity, retirement.state) == (
        "Acme Bakery Ltd",
        5,
        "Processed",
    )
    page = Client().get(f"/statements/{retirement.statement}")
    assert page.status_code == 200 and b"Acme Bakery Ltd" in page.content
    buyer = APIClient()
    buyer.credentials(HTTP_AUTHORIZATION=f"Bearer {lines[lines.index(said) - 1].split()[-1]}")
    assert buyer.get("/api/v1/energy/account").json()["held"] == 5
    call_command("verify_ledger", stdout=StringIO())


def test_make_run_prints_the_curl_commands_and_the_statement_url(chain):
    from cg.management.commands.serve import Command

    out = StringIO()

    Command(stdout=out)._demo(1, "127.0.0.1", "8000")

    text = out.getvalue()
    statement = Retirement.objects.get().statement
    assert f"http://127.0.0.1:8000/statements/{statement}" in text
    assert '"http://127.0.0.1:8000/api/v1/energy/retirements"' in text
    assert text.count("Authorization: Bearer") == 4  # three for the seller, one for the buyer
    assert "buyer token" not in text  # each token is shown once, in its curl command
