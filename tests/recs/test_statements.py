"""Public statements: a retirement anyone holding its id can read and check on chain."""

import io
import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from cg.pipeline import run_until_idle
from core.units import MWH
from recs.models import Retirement
from tests.factories import (
    T0,
    SourceFactory,
    anchor_all,
    append,
    assert_ledger_verified,
    issue,
    mark_processed,
    past_the_triggers,
    token_for,
)

README = Path(__file__).resolve().parents[2] / "README.md"
CLAIM = {
    "beneficiary": "Acme Bakery Ltd",
    "purpose": "2019 Scope 2 market-based",
    "country": "US",
    "period_start": "2019-03-15",
    "period_end": "2019-03-15",
}


def readme_snippet() -> str:
    text = README.read_text()
    found = re.search(r"<!-- snippet: statement-check -->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its statement-check snippet"
    return found.group(1)


def retire(source, body: dict) -> dict:
    api = Client()
    api.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_for(source.customer)}"
    made = api.post(
        "/api/v1/energy/retirements",
        json.dumps(body),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="claim-1",
    )
    assert made.status_code == 201, made.content
    return made.json()


@pytest.fixture
def retired(db, source):
    """Three RECs of a solar plant (hours of 0.6 MWh, so RECs open with remainders),
    two retired, everything anchored."""
    source.technology, source.country = "solar_pv", "US"
    source.save()
    mark_processed(append(source, [600_000_000] * 6))
    issue(source, anchor=False)
    made = retire(source, {**CLAIM, "quantity": 2})
    anchor_all()
    return made


def statement_path(made: dict) -> str:
    return "/statements/" + made["statement"].rsplit("/", 1)[1]


def test_the_json_carries_the_claim_every_rec_and_every_proof(retired, source):
    response = Client().get(statement_path(retired) + ".json")

    assert response.status_code == 200
    s = json.loads(response.content, parse_float=Decimal)
    assert s["retirement"] | {"created": None} == {
        "id": retired["id"], "account": source.customer.account.code,
        "holder": source.customer.name, "beneficiary": "Acme Bakery Ltd",
        "purpose": "2019 Scope 2 market-based", "country": "US",
        "period_start": "2019-03-15", "period_end": "2019-03-15", "quantity": 2,
        "created": None, "state": "Processed",
        "hash": Retirement.objects.get().hash,
    }  # fmt: skip
    [bundle] = s["bundles"]
    assert bundle["source"]["technology"] == "solar_pv"
    assert (bundle["first"], bundle["last"]) == (f"{source.pk}-1", f"{source.pk}-2")
    assert bundle["production_start"] == "2019-03-15T00:00:00.000+0000"
    assert bundle["production_end"] == "2019-03-15T03:00:00.000+0000"
    assert [r["serial"] for r in s["recs"]] == [f"{source.pk}-1", f"{source.pk}-2"]
    assert all(r["anchor"]["chain_block_number"] for r in s["recs"])
    # 0.6 MWh an hour: the 2 MWh come from hours 0-2 whole and 0.2 MWh of hour 3.
    assert [h["energy"] for h in s["hourly"]] == [Decimal("0.6")] * 3 + [Decimal("0.2")]
    assert sum(h["energy"] for h in s["hourly"]) == 2
    # The same JSON for a client that asks for it on the page's address.
    asked = Client().get(statement_path(retired), HTTP_ACCEPT="application/json")
    assert json.loads(asked.content, parse_float=Decimal) == s


def test_an_unknown_statement_is_a_404_in_every_format(db):
    for suffix in ("", ".json", ".pdf"):
        assert Client().get(f"/statements/nothing-here{suffix}").status_code == 404
    assert Client().get("/statements/..%2Fadmin").status_code == 404


def test_the_pdf_opens_and_names_the_beneficiary_and_quantity(retired):
    from pypdf import PdfReader

    response = Client().get(statement_path(retired) + ".pdf")

    assert response["Content-Type"] == "application/pdf"
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages)
    assert "Acme Bakery Ltd" in text
    assert "2 MWh retired" in text
    assert "2019-03-15 to 2019-03-15" in text


@pytest.mark.django_db(transaction=True)
def test_the_readme_snippet_checks_a_statement_on_anvil(anvil_node):
    w3, _ = anvil_node
    source = SourceFactory()
    append(source, [700_000_000] * 5, start=T0)
    run_until_idle()  # anchored, 3 RECs issued and anchored
    made = retire(source, {**CLAIM, "quantity": 3})
    run_until_idle()  # the retirement sealed and anchored after its RECs
    text = Client().get(statement_path(made) + ".json").content.decode()

    namespace: dict = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)

    assert namespace["check_statement"](text, w3) == 3
    assert_ledger_verified()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_snippet_refuses_a_claim_rewritten_after_anchoring(chain):
    source = SourceFactory()
    append(source, [MWH] * 2, start=T0)
    run_until_idle()
    made = retire(source, {**CLAIM, "quantity": 2})
    run_until_idle()
    past_the_triggers(
        "recs_retirement",
        "UPDATE recs_retirement SET beneficiary = %s WHERE id = %s",
        ["Someone Else Ltd", made["id"]],
    )
    text = Client().get(statement_path(made) + ".json").content.decode()
    namespace: dict = {}
    exec(compile(readme_snippet(), "README.md", "exec"), namespace)

    with pytest.raises(AssertionError, match="not anchored"):
        namespace["check_statement"](text, chain)


@pytest.mark.django_db(transaction=True)
def test_a_person_reads_the_statement_in_a_browser(live_server, browser, chain):
    from selenium.webdriver.common.by import By

    source = SourceFactory(name="Hill Valley Solar", technology="solar_pv", country="US")
    append(source, [600_000_000] * 6, start=T0)
    run_until_idle()
    made = retire(source, {**CLAIM, "quantity": 2})
    run_until_idle()

    browser.get(live_server.url + statement_path(made))

    assert browser.title == "Retirement statement: 2 MWh for Acme Bakery Ltd"
    assert browser.find_element(By.ID, "beneficiary").text == "Acme Bakery Ltd"
    assert browser.find_element(By.ID, "quantity").text == "2 MWh (2 RECs)"
    assert "chain block" in browser.find_element(By.ID, "anchoring").text
    bundles = browser.find_elements(By.CSS_SELECTOR, "#bundles tr")
    assert "Hill Valley Solar" in bundles[1].text and "Solar PV" in bundles[1].text
    recs = browser.find_elements(By.CSS_SELECTOR, "#recs tr")[1:]
    assert [row.text.split()[0] for row in recs] == [f"{source.pk}-1", f"{source.pk}-2"]
    assert all("Processed" in row.text for row in recs)
    chart = browser.find_element(By.CSS_SELECTOR, "svg.profile polygon")
    assert chart.size["width"] > 300 and chart.size["height"] > 50  # drawn, not empty
    if shot := os.environ.get("CG_STATEMENT_SCREENSHOT"):  # to look at it: a PNG
        browser.save_screenshot(shot)


def test_a_statement_before_anchoring_says_it_waits(db, source):
    mark_processed(append(source, [MWH] * 3))
    issue(source, anchor=False)  # the RECs are not sealed yet
    made = retire(source, {**CLAIM, "quantity": 2})

    page = Client().get(statement_path(made)).content.decode()
    body = json.loads(Client().get(statement_path(made) + ".json").content, parse_float=Decimal)

    assert "waiting to be sealed into a ledger block" in page
    assert body["anchor"] is None and body["retirement"]["state"] == "New"
    assert [r["state"] for r in body["recs"]] == ["New", "New"]
    assert all("anchor" not in r and "hash" not in r for r in body["recs"])
    assert body["leaf_fields"]["recs"] == []  # nothing to hash before the RECs are


def test_a_statement_spans_the_sources_it_retires_from(db, customer):
    first, second = SourceFactory(customer=customer), SourceFactory(customer=customer)
    for source in (first, second):
        mark_processed(append(source, [MWH] * 2))
        issue(source, anchor=False)
    made = retire(first, {**CLAIM, "recs": [f"{second.pk}-2", f"{first.pk}-1"]})
    anchor_all()

    body = json.loads(Client().get(statement_path(made) + ".json").content, parse_float=Decimal)

    assert [b["source"]["id"] for b in body["bundles"]] == [first.pk, second.pk]
    assert [r["serial"] for r in body["recs"]] == [f"{first.pk}-1", f"{second.pk}-2"]
    assert sum(h["energy"] for h in body["hourly"]) == 2
