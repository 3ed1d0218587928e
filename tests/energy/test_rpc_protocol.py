"""JSON-RPC 2.0 over POST /v1: envelopes, batches, notifications, limits."""

import datetime as dt
import json

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy.models import Reading
from tests.factories import SourceFactory
from tests.pushing import Miner, call, post

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.fixture
def miner(customer):
    miner = Miner(seed=11)
    SourceFactory(customer=customer, miner_address=miner.address.lower())
    return miner


def report_call(miner, minutes_ago: int, energy: int, call_id=1) -> dict:
    when = NOW - dt.timedelta(minutes=minutes_ago)
    return call("tx_reportMinerPoGG", miner.report([(when, 1000, energy)]), call_id)


def test_a_single_call_gets_its_result_with_its_id(miner):
    response = post(Client(), report_call(miner, 60, 5, call_id="abc"))

    assert response.status_code == 200
    assert response.json() == {"jsonrpc": "2.0", "id": "abc", "result": "200"}


def test_a_batch_is_answered_in_order_without_its_notifications(miner):
    batch = [
        report_call(miner, 60, 5, call_id=1),
        report_call(miner, 55, 6, call_id=None),  # a notification
        call("no_such_method", {}, call_id=3),
        report_call(miner, 50, 4, call_id=4),  # energy went down
        report_call(miner, 45, 7, call_id=5),
    ]

    answers = post(Client(), batch).json()

    assert [a["id"] for a in answers] == [1, 3, 4, 5]
    assert answers[0]["result"] == "200" and answers[3]["result"] == "200"
    assert answers[1]["error"]["code"] == -32601
    assert answers[2]["error"]["code"] == 12207
    # The notification was processed all the same.
    assert sorted(Reading.objects.values_list("energy", flat=True)) == [5, 6, 7]


def test_a_request_of_notifications_only_gets_no_content(miner):
    response = post(Client(), [report_call(miner, 60, 5, call_id=None)])

    assert response.status_code == 204 and response.content == b""
    assert Reading.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b'{"jsonrpc": "2.0", "method": "x", "id": 1', -32700),
        (b"\xff\xfe\x00garbage", -32700),
        (b"[" * 100_000, -32700),
        (b"[]", -32600),
        (b'"just a string"', -32600),
        (b'{"jsonrpc": "1.0", "method": "net_getMinerByAddress", "id": 1}', -32600),
        (b'{"jsonrpc": "2.0", "method": 5, "id": 1}', -32600),
        (b'{"jsonrpc": "2.0", "method": "m", "params": "x", "id": 1}', -32600),
        (b'{"jsonrpc": "2.0", "method": "m", "id": 1.5}', -32600),
        (b'{"jsonrpc": "2.0", "method": "m", "id": 1}', -32601),
    ],
)
def test_protocol_faults_use_the_standard_codes(body, code):
    response = post(Client(), body)

    assert response.status_code == 200
    assert response.json()["error"]["code"] == code


def test_each_invalid_element_of_a_batch_is_answered():
    answers = post(Client(), [1, "x", {"jsonrpc": "2.0"}]).json()

    assert [a["error"]["code"] for a in answers] == [-32600] * 3
    assert [a["id"] for a in answers] == [None] * 3


def test_a_body_over_one_mib_is_refused_and_changes_nothing(miner):
    batch = [report_call(miner, 60, 5)] + [call("net_getMinerByAddress", ["0x" + "0" * 40])] * 9000
    body = json.dumps(batch).encode()
    assert len(body) > 1024 * 1024

    response = post(Client(), body)

    assert response.status_code == 413
    assert response.json()["error"]["code"] == -32600
    assert Reading.objects.count() == 0


def test_a_batch_over_1000_calls_is_refused_and_changes_nothing(miner):
    batch = [report_call(miner, 60, 5)] + [call("net_getMinerByAddress", ["0x" + "0" * 40])] * 1000

    response = post(Client(), batch)

    assert response.json()["error"]["code"] == -32600
    assert "1000" in response.json()["error"]["data"]["reason"]
    assert Reading.objects.count() == 0


def test_only_post_is_accepted():
    response = Client().get("/v1")

    assert response.status_code == 405
    assert response.json()["error"]["code"] == -32600


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    payload=st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats()
        | st.text(max_size=20)
        | st.sampled_from(["tx_reportMinerPoGG", "edr_reportConsumeData", "2.0"]),
        lambda inner: st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "jsonrpc",
                    "method",
                    "params",
                    "id",
                    "version",
                    "address",
                    "dataList",
                    "signature",
                    "clientId",
                    "power",
                    "energy",
                ]
            ),
            inner,
            max_size=6,
        ),
        max_leaves=20,
    )
)
def test_no_input_yields_a_500(payload):
    response = post(Client(raise_request_exception=False), json.dumps(payload))

    assert response.status_code in (200, 204)
    if response.status_code == 200:
        assert "jsonrpc" in response.content.decode()


def test_a_storage_failure_is_32603_for_every_report_and_stores_nothing(miner, monkeypatch):
    from energy import ingestion

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ingestion, "pushes_store", broken)
    batch = [
        report_call(miner, 60, 5, call_id=1),
        call("net_getMinerByAddress", [miner.address], 2),
    ]

    answers = post(Client(), batch).json()

    assert answers[0]["error"] == {"code": -32603, "message": "Internal error"}
    assert answers[1]["result"]["address"] == miner.address
    assert Reading.objects.count() == 0
