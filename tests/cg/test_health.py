"""/healthz and /readyz: alive, and ready only when every dependency answers as it must."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client
from eth_account import Account

from chain import client

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.django_db(transaction=True)


def ready() -> tuple[int, dict]:
    response = Client().get("/readyz")
    return response.status_code, response.json()


def failing(body: dict) -> dict[str, str]:
    return {name: check["detail"] for name, check in body["checks"].items() if not check["ok"]}


def test_healthz_answers_without_touching_anything(django_assert_num_queries):
    with django_assert_num_queries(0):
        response = Client().get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "alive"})


def test_ready_when_every_dependency_answers(chain, settings):
    status, body = ready()

    assert status == 200, body
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "broker", "node", "contract", "signer"}
    broker = body["checks"]["broker"]["detail"]
    if settings.CELERY_TASK_ALWAYS_EAGER:  # the embedded run of the suite: no broker
        assert broker == "none: tasks run in the process (embedded)"
    else:
        assert broker == "answers"  # the suite's real Redis
    assert "not deployed yet" in body["checks"]["contract"]["detail"]
    client.anchor_contract()  # the first anchoring deploys it
    assert ready()[1]["checks"]["contract"]["detail"] == "has code"


def test_nothing_secret_is_in_the_answer(chain, settings):
    text = Client().get("/readyz").content.decode()

    assert settings.CHAIN_PRIVATE_KEY[2:] not in text
    assert client.engine_account().address.lower() not in text.lower()
    assert "postgresql://" not in text and "redis://" not in text


def test_a_broker_down_is_not_ready(chain, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False  # a broker is configured, and down
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"

    status, body = ready()

    assert status == 503 and body["status"] == "not ready"
    assert list(failing(body)) == ["broker"]


def test_a_node_down_is_not_ready(settings):
    settings.WEB3_PROVIDER_URI = "http://127.0.0.1:1"
    client.use_web3(None)

    status, body = ready()

    assert status == 503
    assert set(failing(body)) == {"node", "contract", "signer"}
    assert body["checks"]["contract"]["detail"] == "the node does not answer"


def test_a_node_on_another_chain_is_not_ready(chain, settings):
    settings.CHAIN_ID = 999

    status, body = ready()

    assert status == 503
    assert failing(body)["node"].endswith("the ledger on chain 999")


def test_a_signer_that_cannot_pay_is_not_ready(chain, settings):
    settings.CHAIN_PRIVATE_KEY = Account.create().key.to_0x_hex()  # a new key: no ether

    status, body = ready()

    assert status == 503
    assert list(failing(body)) == ["signer"]
    assert "pays for 0 anchoring transactions" in failing(body)["signer"]


def test_a_contract_address_without_code_is_not_ready(chain, settings):
    settings.ANCHOR_CONTRACT_ADDRESS = "0x" + "12" * 20

    status, body = ready()

    assert (status, list(failing(body))) == (503, ["contract"])


PROBE = textwrap.dedent(
    """
    import django
    django.setup()
    from django.test import Client
    response = Client().get("/readyz")
    print(response.status_code, response.content.decode())
    """
)


def probe(database_url: str) -> tuple[int, dict]:
    env = os.environ | {"DATABASE_URL": database_url, "WEB3_PROVIDER_URI": "eth-tester://"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    status, body = done.stdout.strip().splitlines()[-1].split(" ", 1)
    return int(status), json.loads(body)


@pytest.mark.postgres
def test_a_database_down_or_not_migrated_is_not_ready():
    status, body = probe("postgresql://127.0.0.1:1/cg")

    assert status == 503
    assert failing(body)["database"].startswith("does not answer")

    with connection.cursor() as cursor:
        cursor.execute("DROP DATABASE IF EXISTS cg_unmigrated")
        cursor.execute("CREATE DATABASE cg_unmigrated")
    try:
        status, body = probe("postgresql://127.0.0.1:5432/cg_unmigrated")
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP DATABASE IF EXISTS cg_unmigrated WITH (FORCE)")
    assert status == 503
    assert failing(body)["database"] == "migrations are not all applied: run manage.py migrate"
