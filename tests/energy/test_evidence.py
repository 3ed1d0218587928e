"""Provenance: every hour read from signed reports leads back to the device's signature."""

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from django.test import Client
from eth_utils import keccak

from cg.pipeline import run_until_idle
from chain.hashing import attribution_leaf, evidence_hash
from energy.hourly import attribute_due_hours
from energy.models import Attribution, Report
from recs.models import Rec
from tests.factories import (
    SourceFactory,
    append,
    assert_ledger_verified,
    past_the_triggers,
    token_for,
)
from tests.pushing import Miner, call, hourly_report, post

pytestmark = pytest.mark.django_db(transaction=True)

README = Path(__file__).resolve().parents[2] / "README.md"
# Two minutes past an hour: no sample falls on a boundary, so each is interpolated.
T = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=6)
START = T + dt.timedelta(minutes=2)
WATTS = 700_000  # 0.7 MWh an hour


@pytest.fixture
def meter():
    miner = Miner(seed=77)
    source = SourceFactory(miner_address=miner.address.lower())
    api = Client()
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(source.customer)}"
    return miner, source, api


def push_hours(miner: Miner, hours: int) -> None:
    per_hour = 12 * (WATTS * 1000 * 5 // 60)  # what hourly_report's 12 samples add
    for h in range(hours):
        samples = hourly_report(START + dt.timedelta(hours=h), h * per_hour, WATTS)
        body = post(Client(), call("tx_reportMinerPoGG", miner.report(samples))).json()
        assert body.get("result") == "200", body


def evidence_url(source, attribution) -> str:
    return f"/api/v1/energy/attributions/{source.pk}/{attribution.pk}/evidence"


def test_an_hour_commits_to_the_reports_around_its_boundaries(meter):
    miner, source, api = meter
    push_hours(miner, 3)
    attribute_due_hours()
    first, second = Attribution.objects.filter(source=source).order_by("seq")
    reports = list(Report.objects.filter(source=source).order_by("pk"))

    body = api.get(evidence_url(source, second)).json()

    # Its start lies between the last sample of the first report and the first of the
    # second; its end likewise between the second and third reports.
    assert [r["id"] for r in body["reports"]] == [r.pk for r in reports]
    assert [s["report"] for s in body["start"]["samples"]] == [0, 1]
    assert [s["report"] for s in body["end"]["samples"]] == [1, 2]
    assert body["start"]["at"] == int((T + dt.timedelta(hours=1)).timestamp())
    assert body["end"]["energy"] - body["start"]["energy"] == second.value
    digests = [keccak(r.signed.encode()) for r in reports]
    assert bytes(second.evidence) == evidence_hash(digests)
    assert all(r["signer"] == miner.address for r in body["reports"])
    assert all(
        r["payload"] == report.signed for r, report in zip(body["reports"], reports, strict=True)
    )
    # The first hour of the source starts at its first sample: one report, one sample.
    body = api.get(evidence_url(source, first)).json()
    assert [s["report"] for s in body["start"]["samples"]] == [0]
    assert body["start"]["at"] == int(START.timestamp())
    assert bytes(first.evidence) == evidence_hash(digests[:2])


def test_the_leaf_commits_to_the_evidence(meter, chain):
    miner, source, api = meter
    push_hours(miner, 3)
    run_until_idle()
    hour = Attribution.objects.filter(source=source).order_by("seq").last()

    proof = api.get(f"/api/v1/energy/attributions/{source.pk}/{hour.pk}/proof").json()

    fields = proof["leaf_fields"]
    assert fields["evidence"] == "0x" + bytes(hour.evidence).hex()
    content = (source.client_id, hour.external_id, hour.effective_time, hour.value)
    assert proof["leaf"] == "0x" + attribution_leaf(*content, bytes(hour.evidence)).hex()
    assert proof["leaf"] != "0x" + attribution_leaf(*content).hex()  # not the v1 leaf
    assert api.get(evidence_url(source, hour)).json()["leaf"] == proof["leaf"]


def test_an_hour_not_read_from_signed_reports_has_no_evidence(meter):
    _, source, api = meter
    consumer = SourceFactory(customer=source.customer, type="consumer")
    # Hours appended as they stand (an operator's import, consumption): no signed text.
    [drawn] = append(consumer, [-5])
    [made] = append(source, [5])

    for row in (drawn, made):
        response = api.get(evidence_url(row.source, row))

        assert response.status_code == 409
        assert response.json()["error"] == "no_evidence"


def test_another_customers_evidence_is_404(meter):
    miner, source, api = meter
    push_hours(miner, 2)
    attribute_due_hours()
    hour = Attribution.objects.get(source=source)
    stranger = Client()
    stranger.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(SourceFactory().customer)}"

    assert stranger.get(evidence_url(source, hour)).status_code == 404
    too_long = f"/api/v1/energy/attributions/{source.pk}/{'9' * 4301}/evidence"
    assert api.get(too_long).status_code == 404


def readme_snippet() -> str:
    text = README.read_text()
    found = re.search(r"<!-- snippet: rec-to-meter -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its REC-to-meter snippet"
    return found.group(1)


def test_the_readme_snippet_goes_from_a_rec_to_the_meter_on_anvil(meter, anvil_node):
    w3, _ = anvil_node
    miner, source, api = meter
    push_hours(miner, 5)  # 4 closed hours, 2.8 MWh: two RECs, the second opened by a remainder
    run_until_idle()
    recs = list(Rec.objects.filter(source=source).order_by("pk"))
    assert len(recs) == 2

    def get(path: str) -> dict:
        response = api.get(path)
        assert response.status_code == 200, response.content
        return response.json()

    namespace: dict = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)
    for rec in recs:
        assert namespace["check_rec"](get, w3, rec.pk) == {miner.address}
    assert_ledger_verified()


@pytest.mark.postgres
def test_the_snippet_refuses_a_report_text_changed_after_anchoring(meter, chain):
    miner, source, api = meter
    push_hours(miner, 5)
    run_until_idle()
    rec = Rec.objects.filter(source=source).order_by("pk").first()
    report = Report.objects.filter(source=source).order_by("pk")[1]
    # Someone with database access rewrites a sample the meter sent.
    text = json.loads(report.signed)
    text["dataList"][5] = text["dataList"][5][:-1] + "f"
    forged = json.dumps(text, separators=(",", ":"))
    past_the_triggers(
        "energy_report", "UPDATE energy_report SET signed = %s WHERE id = %s", [forged, report.pk]
    )
    namespace: dict = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)

    with pytest.raises(AssertionError):
        namespace["check_rec"](lambda path: api.get(path).json(), chain, rec.pk)


def problems() -> list[str]:
    from chain.audit import ledger_problems
    from tests.factories import node_calls_in_the_test_transaction

    with node_calls_in_the_test_transaction():
        return list(ledger_problems())


@pytest.mark.postgres
def test_verify_ledger_recomputes_each_hour_from_its_readings(meter, chain):
    miner, source, _ = meter
    push_hours(miner, 3)
    run_until_idle()
    assert problems() == []
    first, second = Attribution.objects.filter(source=source).order_by("seq")
    # The last sample of the second report is one the second hour's end is read from.
    last = source.readings.order_by("sample_time")[23]

    past_the_triggers(
        "energy_reading", "UPDATE energy_reading SET energy = energy + 1000 WHERE id = %s",
        [last.pk],
    )  # fmt: skip

    found = problems()
    assert f"reading {last.pk}: not a sample of the signed text of report {last.report_id}" in found
    assert any(p.startswith(f"attribution {second.pk}: {second.value} mWh at") for p in found)
    assert not any(p.startswith(f"attribution {first.pk}:") for p in found)


@pytest.mark.postgres
def test_verify_ledger_names_a_report_whose_text_was_rewritten(meter, chain):
    miner, source, _ = meter
    push_hours(miner, 3)
    run_until_idle()
    report = Report.objects.filter(source=source).order_by("pk")[1]
    text = json.loads(report.signed)
    text["dataList"][0] = text["dataList"][0][:-1] + "f"

    past_the_triggers(
        "energy_report", "UPDATE energy_report SET signed = %s WHERE id = %s",
        [json.dumps(text, separators=(",", ":")), report.pk],
    )  # fmt: skip

    found = problems()
    assert f"report {report.pk}: its digest is not the hash of its signed text" in found
    assert any("its evidence is not the hash of its reports' text" in p for p in found)
