"""POST /transfers and its answers: RECs change hands once the receiver accepts."""

import pytest
from django.db import IntegrityError, transaction

from chain.audit import ledger_problems
from core.units import MWH
from recs.models import Bundle, IdempotentRequest, Transfer, TransferRange
from tests.factories import (
    CustomerFactory,
    append,
    assert_ledger_verified,
    issue,
    mark_processed,
    node_calls_in_the_test_transaction,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/energy/transfers"


@pytest.fixture
def seller(customer, source):
    """The source's customer, holding RECs 1..5 of it in one active bundle."""
    mark_processed(append(source, [MWH] * 5))
    issue(source, anchor=False)
    return customer


@pytest.fixture
def buyer():
    return CustomerFactory(name="Acme Bakery")


@pytest.fixture
def buyer_api(client_for, buyer):
    return client_for(buyer)


def code(api) -> str:
    return api.get("/api/v1/energy/account").json()["account"]


def send(api, body: dict, key: str = "k1"):
    return api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def holdings(api) -> list[tuple[str, str, int, str]]:
    return [
        (b["first"], b["last"], b["quantity"], b["status"])
        for b in api.get("/api/v1/energy/holdings").json()
    ]


def everything() -> tuple:
    """The state a failed request must leave as it was."""
    return (
        sorted(Bundle.objects.values_list("account_id", "source_id", "first", "last", "status")),
        Transfer.objects.count(),
        TransferRange.objects.count(),
        IdempotentRequest.objects.count(),
    )


def test_a_transfer_waits_for_its_receiver_then_moves_the_oldest_recs(
    api, buyer_api, seller, source
):
    s = source.pk

    sent = send(api, {"to": code(buyer_api), "source": str(s), "quantity": 3})

    assert sent.status_code == 201
    body = sent.json()
    assert body == {
        "id": body["id"],
        "status": "pending",
        "from": code(api),
        "to": code(buyer_api),
        "quantity": 3,
        "bundles": [{"source": s, "first": f"{s}-1", "last": f"{s}-3", "quantity": 3}],
        "created": body["created"],
    }
    assert holdings(api) == [
        (f"{s}-1", f"{s}-3", 3, "in_transfer"),
        (f"{s}-4", f"{s}-5", 2, "active"),
    ]
    assert holdings(buyer_api) == []
    assert api.get("/api/v1/energy/account").json()["held"] == 2
    [listed] = buyer_api.get(URL).json()
    assert (listed["id"], listed["total"], listed["status"]) == (body["id"], 1, "pending")

    accepted = buyer_api.post(f"{URL}/{body['id']}/accept")

    assert accepted.status_code == 200
    assert accepted.json()["status"] == "completed"
    assert "status_changed" in accepted.json()
    assert holdings(buyer_api) == [(f"{s}-1", f"{s}-3", 3, "active")]
    assert holdings(api) == [(f"{s}-4", f"{s}-5", 2, "active")]
    assert buyer_api.get("/api/v1/energy/account").json()["held"] == 3
    assert api.get(f"{URL}/{body['id']}").json()["status"] == "completed"
    assert_ledger_verified()


def test_named_recs_split_the_bundle_and_a_rejection_mends_it(api, buyer_api, seller, source):
    s = source.pk
    sent = send(api, {"to": code(buyer_api), "recs": [f"{s}-4", f"{s}-2"]}).json()

    assert [(b["first"], b["last"]) for b in sent["bundles"]] == [
        (f"{s}-2", f"{s}-2"),
        (f"{s}-4", f"{s}-4"),
    ]
    assert holdings(api) == [
        (f"{s}-1", f"{s}-1", 1, "active"),
        (f"{s}-2", f"{s}-2", 1, "in_transfer"),
        (f"{s}-3", f"{s}-3", 1, "active"),
        (f"{s}-4", f"{s}-4", 1, "in_transfer"),
        (f"{s}-5", f"{s}-5", 1, "active"),
    ]

    rejected = buyer_api.post(f"{URL}/{sent['id']}/reject")

    assert rejected.json()["status"] == "rejected"
    assert holdings(api) == [(f"{s}-1", f"{s}-5", 5, "active")]
    assert holdings(buyer_api) == []
    assert_ledger_verified()


def test_the_sender_recalls_a_pending_transfer(api, buyer_api, seller, source):
    sent = send(api, {"to": code(buyer_api), "quantity": 5}).json()

    recalled = api.post(f"{URL}/{sent['id']}/recall")

    assert recalled.json()["status"] == "recalled"
    assert holdings(api) == [(f"{source.pk}-1", f"{source.pk}-5", 5, "active")]


@pytest.mark.parametrize(
    ("who", "answer"), [("seller", "accept"), ("seller", "reject"), ("buyer", "recall")]
)
def test_only_the_right_party_answers(api, buyer_api, seller, who, answer):
    sent = send(api, {"to": code(buyer_api), "quantity": 2}).json()
    before = everything()

    refused = (api if who == "seller" else buyer_api).post(f"{URL}/{sent['id']}/{answer}")

    assert refused.status_code == 403
    assert refused.json()["error"] == "forbidden"
    assert everything() == before


@pytest.mark.parametrize("second", ["accept", "reject", "recall"])
def test_an_answered_transfer_is_no_longer_pending(api, buyer_api, seller, second):
    sent = send(api, {"to": code(buyer_api), "quantity": 2}).json()
    api.post(f"{URL}/{sent['id']}/recall")
    before = everything()

    again = (api if second == "recall" else buyer_api).post(f"{URL}/{sent['id']}/{second}")

    assert again.status_code == 409
    assert again.json()["error"] == "transfer_not_pending"
    assert everything() == before


def test_the_receiver_passes_received_recs_on(api, buyer_api, client_for, seller, source):
    third = client_for(CustomerFactory(name="Third"))
    sent = send(api, {"to": code(buyer_api), "quantity": 4}).json()
    buyer_api.post(f"{URL}/{sent['id']}/accept")

    onward = send(buyer_api, {"to": code(third), "source": str(source.pk), "quantity": 1})

    assert onward.status_code == 201
    third.post(f"{URL}/{onward.json()['id']}/accept")
    assert holdings(third) == [(f"{source.pk}-1", f"{source.pk}-1", 1, "active")]
    assert holdings(buyer_api) == [(f"{source.pk}-2", f"{source.pk}-4", 3, "active")]
    # A holder reads a REC it holds, and its transactions, like the issuer.
    rec_id = api.get("/api/v1/energy/recs").json()[-1]["id"]
    assert third.get(f"/api/v1/energy/recs/{rec_id}").json()["serial"] == f"{source.pk}-1"
    assert buyer_api.get(f"/api/v1/energy/recs/{rec_id}").status_code == 404
    assert_ledger_verified()


@pytest.mark.parametrize(
    ("body", "status", "error", "param"),
    [
        ({"quantity": 6}, 409, "insufficient_holdings", None),
        ({"recs": ["{s}-5", "{s}-6"]}, 409, "insufficient_holdings", None),
        ({"to": "CGA-2222-2222-2222", "quantity": 1}, 404, "unknown_account", None),
        ({"to": "own", "quantity": 1}, 400, "invalid_parameter", "to"),
        ({"quantity": 0}, 400, "invalid_parameter", "quantity"),
        ({"quantity": "2"}, 400, "invalid_parameter", "quantity"),
        ({"quantity": 1.5}, 400, "invalid_parameter", "quantity"),
        ({"quantity": True}, 400, "invalid_parameter", "quantity"),
        ({}, 400, "invalid_parameter", "quantity"),
        ({"quantity": 1, "recs": ["{s}-1"]}, 400, "invalid_parameter", "quantity"),
        ({"recs": ["{s}-1", "{s}-1"]}, 400, "invalid_parameter", "recs"),
        ({"recs": ["{s}-0"]}, 400, "invalid_parameter", "recs.0"),
        ({"recs": [12]}, 400, "invalid_parameter", "recs.0"),
        ({"recs": []}, 400, "invalid_parameter", "recs"),
        ({"source": "nope", "quantity": 1}, 404, "not_found", None),
        ({"to": None, "quantity": 1}, 400, "invalid_parameter", "to"),
    ],
)
def test_a_refused_transfer_changes_nothing(api, buyer_api, seller, source, body, status, error,
                                            param):  # fmt: skip
    body = {"to": code(buyer_api), **body}
    if body["to"] == "own":
        body["to"] = code(api)
    if "recs" in body:
        body["recs"] = [r.format(s=source.pk) if isinstance(r, str) else r for r in body["recs"]]
    before = everything()

    refused = send(api, body)

    assert refused.status_code == status, refused.json()
    assert refused.json()["error"] == error
    assert refused.json().get("param") == param
    assert everything() == before


def test_a_body_that_is_not_json_is_an_invalid_parameter(api, seller):
    refused = api.post(URL, "{", content_type="application/json", HTTP_IDEMPOTENCY_KEY="k")

    assert (refused.status_code, refused.json()["param"]) == (400, "body")


def test_a_post_needs_an_idempotency_key(api, buyer_api, seller):
    before = everything()

    refused = api.post(URL, {"to": code(buyer_api), "quantity": 1}, format="json")

    assert (refused.status_code, refused.json()["error"]) == (400, "idempotency_key_required")
    assert everything() == before


def test_the_same_key_and_body_answer_the_first_response_again(api, buyer_api, seller):
    body = {"to": code(buyer_api), "quantity": 2}
    first = send(api, body, key="order-17")

    again = send(api, body, key="order-17")

    assert (again.status_code, again.json()) == (201, first.json())
    assert Transfer.objects.count() == 1
    assert api.get("/api/v1/energy/account").json()["held"] == 3


def test_a_key_used_with_another_body_is_refused(api, buyer_api, seller):
    send(api, {"to": code(buyer_api), "quantity": 2}, key="order-17")
    before = everything()

    refused = send(api, {"to": code(buyer_api), "quantity": 3}, key="order-17")

    assert (refused.status_code, refused.json()["error"]) == (409, "idempotency_key_reused")
    assert everything() == before


def test_a_failed_request_may_be_retried_with_its_key(api, buyer_api, seller):
    send(api, {"to": code(buyer_api), "quantity": 9}, key="order-18")

    retried = send(api, {"to": code(buyer_api), "quantity": 9}, key="order-18")

    assert retried.json()["error"] == "insufficient_holdings"
    assert IdempotentRequest.objects.count() == 0


def test_nobody_else_sees_or_answers_a_transfer(api, buyer_api, client_for, seller):
    sent = send(api, {"to": code(buyer_api), "quantity": 2}).json()
    stranger = client_for(CustomerFactory(name="Stranger"))
    before = everything()

    assert stranger.get(f"{URL}/{sent['id']}").status_code == 404
    assert stranger.get(URL).json() == []
    for answer in ("accept", "reject", "recall"):
        assert stranger.post(f"{URL}/{sent['id']}/{answer}").status_code == 404
    assert everything() == before


def test_verify_ledger_replays_the_history_and_names_a_bundle_that_moved_without_it(
    api, buyer_api, seller, source
):
    sent = send(api, {"to": code(buyer_api), "quantity": 2}).json()
    buyer_api.post(f"{URL}/{sent['id']}/accept")
    # Someone with database access hands the received RECs back, with no transfer.
    seller_account = Bundle.objects.get(first=3).account_id
    buyer_account = Bundle.objects.get(first=1).account_id
    Bundle.objects.filter(first=1).update(account_id=seller_account)

    with node_calls_in_the_test_transaction():
        found = list(ledger_problems())

    assert (
        f"source {source.pk}: the history makes serials 1..2 active in account {buyer_account}, "
        f"but the bundles hold 1..5 active in account {seller_account}"
    ) in found


def test_the_database_refuses_to_rewrite_a_transfer(api, buyer_api, seller):
    sent = send(api, {"to": code(buyer_api), "quantity": 2}).json()
    buyer_api.post(f"{URL}/{sent['id']}/accept")

    for change in ({"quantity": 1}, {"status": "pending"}, {"status": "rejected"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Transfer.objects.filter(pk=sent["id"]).update(**change)
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRange.objects.filter(transfer_id=sent["id"]).update(last=1, quantity=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        TransferRange.objects.filter(transfer_id=sent["id"]).delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        IdempotentRequest.objects.update(body={})


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_key_sent_by_many_clients_at_once_makes_one_transfer(client_for, customer, source):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    mark_processed(append(source, [MWH] * 5))
    issue(source, anchor=False)
    to = code(client_for(CustomerFactory(name="Buyer")))
    body = {"to": to, "quantity": 2}

    def post_once(_) -> tuple[int, dict]:
        try:  # each thread its own client and database connection
            response = send(client_for(customer), body, key="same-order")
            return response.status_code, response.json()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(post_once, range(6)))

    assert {status for status, _ in answers} == {201}
    assert len({answer["id"] for _, answer in answers}) == 1
    assert Transfer.objects.count() == 1
    assert IdempotentRequest.objects.count() == 1


def test_transfer_lists_page_and_filter_by_status(api, buyer_api, seller):
    to = code(buyer_api)
    made = [send(api, {"to": to, "quantity": 1}, key=f"k{i}").json()["id"] for i in range(3)]
    buyer_api.post(f"{URL}/{made[0]}/accept")

    page = api.get(URL, {"per_page": 2}).json()
    pending = buyer_api.get(URL, {"status": "pending"}).json()
    refused = api.get(URL, {"status": "lost"})

    assert [t["id"] for t in page] == [made[2], made[1]]  # newest first
    assert {t["total"] for t in page} == {3}
    assert [t["id"] for t in pending] == [made[2], made[1]]
    assert (refused.status_code, refused.json()["param"]) == (400, "status")
