"""GET /api/v1/energy/account: one account per customer, known by a public code."""

import re
import threading

import pytest
from django.db import connection

from core.units import MWH
from energy.services import customer_create
from recs.accounts import account_open
from recs.models import Account
from tests.factories import CustomerFactory, SourceFactory, append, issue, mark_processed

pytestmark = pytest.mark.django_db

CODE = re.compile(r"CGA(-[2-9A-HJKMNP-TV-Z]{4}){3}")


def test_a_new_customer_opens_with_its_account(client_for):
    customer, _ = customer_create(name="Hill Valley Energy")

    body = client_for(customer).get("/api/v1/energy/account").json()

    assert CODE.fullmatch(body["account"])
    assert body["account"] == Account.objects.get(customer=customer).code
    assert (body["name"], body["held"], body["retired"]) == ("Hill Valley Energy", 0, 0)
    assert body["created"].endswith("+0000")


def test_an_account_holds_the_recs_its_customer_was_issued(api, source):
    mark_processed(append(source, [MWH, MWH, MWH // 2]))
    issue(source)

    assert api.get("/api/v1/energy/account").json()["held"] == 2


def test_each_customer_has_its_own_account(client_for):
    first, second = CustomerFactory(), CustomerFactory()

    codes = {client_for(c).get("/api/v1/energy/account").json()["account"] for c in (first, second)}

    assert len(codes) == 2
    assert Account.objects.count() == 2
    assert client_for(first).get("/api/v1/energy/account").json()["account"] in codes


def test_without_a_token_the_account_is_401(client):
    assert client.get("/api/v1/energy/account").status_code == 401


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_openers_racing_for_one_customer_open_one_account():
    customer = SourceFactory().customer
    opened, barrier = [], threading.Barrier(4)

    def open_it():
        barrier.wait()
        opened.append(account_open(customer=customer).code)
        connection.close()

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(opened)) == 1 and len(opened) == 4
    assert Account.objects.filter(customer=customer).count() == 1
