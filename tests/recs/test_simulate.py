"""The demo: `manage.py simulate` shows the main job end to end."""

from io import StringIO

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

from energy.models import Attribution, Source
from recs.models import Rec, Remainder

pytestmark = pytest.mark.django_db(transaction=True)


def test_simulate_feeds_signed_reports_and_leaves_recs_with_remainders(chain):
    out = StringIO()

    call_command("simulate", days=2, stdout=out)

    lines = out.getvalue().splitlines()
    token = lines[-1]
    assert lines[0].endswith("signed reports") and "demo ready" in lines[-3]
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
    call_command("verify_ledger", stdout=StringIO())
