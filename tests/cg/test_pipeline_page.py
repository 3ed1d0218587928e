"""The operators' pipeline page, read by a staff member in headless Chromium."""

import datetime as dt
import os

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.db.models import Sum
from django.test import Client

from chain.models import LedgerBlock
from chain.sealing import new_block
from core.units import MWH
from energy.models import Attribution, Quality
from energy.tasks import attribute_hours
from recs.ledger import KIND as REC_KIND
from recs.ledger import RecLeaves
from recs.models import Rec
from tests.factories import SourceFactory, append, issue, mark_processed

pytestmark = pytest.mark.django_db(transaction=True)
NOW = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)


@pytest.fixture
def busy(chain):
    """Anchored hours and RECs of today, hours still waiting, one in quarantine, one
    block failing to send, and a task run."""
    source = SourceFactory(name="Sunny Hill Array")
    rows = append(source, [MWH] * 5 + [MWH // 3] * 3, start=NOW - dt.timedelta(hours=9))
    mark_processed(rows[:5])
    issue(source, anchor=False)
    with transaction.atomic():  # the RECs sealed; sending their block fails
        block = new_block(REC_KIND, RecLeaves().take(100, None))
    LedgerBlock.objects.filter(pk=block.pk).update(attempts=3, last_error="nonce too low")
    Attribution.objects.filter(pk=rows[6].pk).update(
        quality=Quality.QUARANTINED, quality_reason="more than the plant could make"
    )
    attribute_hours.apply()
    return source


def login(browser, live_server) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    User.objects.create_superuser("operator", "op@example.com", "a-long-passphrase")
    browser.get(live_server.url + "/admin/login/?next=/admin/")
    browser.find_element(By.ID, "id_username").send_keys("operator")
    browser.find_element(By.ID, "id_password").send_keys("a-long-passphrase")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    # A click does not wait for the page it submits to: wait until the admin answers.
    WebDriverWait(browser, 10).until(lambda b: "/admin/login/" not in b.current_url)


def test_the_page_shows_what_the_database_holds(busy, live_server, browser):
    from selenium.webdriver.common.by import By

    login(browser, live_server)
    browser.find_element(By.LINK_TEXT, "Pipeline: does it keep up?").click()

    def figure(element_id: str) -> int:
        return int(browser.find_element(By.CSS_SELECTOR, f"#{element_id} b").text)

    assert browser.title.startswith("Pipeline")
    assert figure("attributions-Processed") == 5
    assert figure("attributions-New") == 3
    assert figure("recs-issued") == Rec.objects.count() == 5
    assert figure("quarantined") == 1 and figure("blocks-failing") == 1
    sealing = browser.find_element(By.CSS_SELECTOR, "#stages tr[data-stage=sealing]")
    assert sealing.text.split()[1] == "3"  # three hours wait to be sealed
    today = f"{NOW:%Y-%m-%d}"
    anchored = LedgerBlock.objects.filter(kind="attributions", status="confirmed")
    bars = {
        bar.get_attribute("data-series"): bar
        for bar in browser.find_elements(By.CSS_SELECTOR, f"svg.week rect[data-day='{today}']")
    }
    assert (
        int(bars["anchored"].get_attribute("data-value"))
        == anchored.aggregate(n=Sum("count"))["n"]
        == 5
    )
    assert int(bars["recs"].get_attribute("data-value")) == 5
    assert bars["anchored"].size["height"] > 20  # drawn, not an empty chart
    assert browser.find_element(By.CSS_SELECTOR, "#week tbody tr:last-child").text.startswith(today)
    task = browser.find_element(
        By.CSS_SELECTOR, "#tasks tr[data-task='energy.tasks.attribute_hours']"
    )
    assert "success" in task.text
    assert "nonce too low" in browser.find_element(By.ID, "stuck").text
    quarantine = browser.find_element(By.ID, "quarantine").text
    assert "Sunny Hill Array" in quarantine and "more than the plant could make" in quarantine
    if shot := os.environ.get("CG_PIPELINE_SCREENSHOT"):  # to look at it: a PNG
        browser.save_screenshot(shot)


def test_only_staff_see_the_page(busy):
    assert Client().get("/admin/pipeline/").status_code == 302  # to the login page
    User.objects.create_user("visitor", password="a-long-passphrase")
    visitor = Client()
    visitor.login(username="visitor", password="a-long-passphrase")
    assert visitor.get("/admin/pipeline/").status_code == 302
