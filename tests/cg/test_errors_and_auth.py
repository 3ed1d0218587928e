"""Authentication, parameter errors, and that no request ever gets a 500."""

import pytest
from rest_framework.test import APIClient

from energy.models import ApiToken
from energy.services import token_revoke
from tests.factories import SourceFactory, append, token_for

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    "/api/v1/energy/sources",
    "/api/v1/energy/attributions/{device}",
    "/api/v1/energy/attributions/{device}/daily",
    "/api/v1/energy/recs",
]


def paths(source):
    return [e.format(device=source.external_id) for e in ENDPOINTS]


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer 0x1234",
        "Basic dXNlcjpwYXNz",
        "Bearer 0x" + "0" * 64,  # well-formed, unknown
    ],
)
def test_no_or_bad_token_is_401_with_a_json_body(source, header):
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)

    for path in paths(source):
        response = client.get(path)
        assert response.status_code == 401, path
        assert response.json()["code"] == 401
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_a_revoked_token_stops_working(source):
    plain = token_for(source.customer)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plain}")
    assert client.get(ENDPOINTS[0]).status_code == 200

    token_revoke(token=ApiToken.objects.get(customer=source.customer, prefix=plain[:10]))

    assert client.get(ENDPOINTS[0]).status_code == 401


def test_tokens_are_stored_only_as_digests(source):
    plain = token_for(source.customer)

    stored = ApiToken.objects.get(prefix=plain[:10])

    assert plain[2:] not in repr(list(ApiToken.objects.values()))
    assert len(stored.digest) == 64


def test_the_token_is_case_insensitive_hex(source):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(source.customer).upper()[2:]}")
    assert client.get(ENDPOINTS[0]).status_code == 401  # no 0x prefix
    client.credentials(HTTP_AUTHORIZATION=f"Bearer 0x{token_for(source.customer)[2:].upper()}")
    assert client.get(ENDPOINTS[0]).status_code == 200


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"page": "x"}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "1.5"}, "page"),
        ({"page": ""}, "page"),
        ({"page": "1e3"}, "page"),
        ({"page": "9" * 40}, "page"),
        ({"page": "٣"}, "page"),  # a non-ASCII digit
        ({"per_page": "0"}, "per_page"),
        ({"per_page": "1001"}, "per_page"),
        ({"per_page": "-5"}, "per_page"),
        ({"per_page": " 5"}, "per_page"),
    ],
)
def test_a_bad_page_parameter_is_400_naming_it(api, source, params, param):
    for path in [*paths(source), "/api/v1/energy/recs/1"]:
        response = api.get(path, params)
        assert response.status_code == 400, path
        assert response.json()["param"] == param
        assert response.json()["error"] == "invalid_parameter"


def test_per_page_1000_is_allowed(api, source):
    append(source, [1] * 3)

    assert len(api.get(paths(source)[1], {"per_page": "1000"}).json()) == 3


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/energy/attributions/%00",
        "/api/v1/energy/attributions/" + "9" * 30,
        "/api/v1/energy/attributions/%E2%82%AC/daily",
        "/api/v1/energy/attributions/" + "x" * 5000,
        # Ids past Python's 4,300-digit int() limit, in every path that takes one.
        "/api/v1/energy/recs/" + "7" * 4301,
        "/api/v1/energy/recs/" + "9" * 19,
        "/api/v1/energy/attributions/" + "7" * 4301,
        "/api/v1/energy/attributions/" + "7" * 4301 + "/daily",
        "/api/v1/energy/attributions/1/" + "7" * 4301 + "/proof",
        "/api/v1/energy/unknown",
        "/no/such/page",
    ],
)
def test_odd_paths_get_a_json_404_not_a_500(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response.json()["code"] == 404


def test_another_customers_device_is_404_like_a_missing_one(api, client_for):
    theirs = SourceFactory()
    append(theirs, [1])

    for path in paths(theirs)[1:3]:
        assert api.get(path).status_code == 404
        assert client_for(theirs.customer).get(path).status_code == 200


def test_writes_are_405(api, source):
    response = api.post(ENDPOINTS[0], {}, format="json")

    assert response.status_code == 405
    assert response.json()["error"] == "method_not_allowed"


def test_an_unexpected_failure_is_a_json_500_without_a_trace(source, monkeypatch):
    from energy import selectors

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(selectors, "source_list", broken)
    client = APIClient(raise_request_exception=False)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(source.customer)}")

    response = client.get(ENDPOINTS[0])

    assert response.status_code == 500
    assert response.json() == {
        "code": 500,
        "error": "internal_error",
        "message": "Internal error; it has been logged.",
    }
    assert b"boom" not in response.content
