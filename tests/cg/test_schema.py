import pytest
from openapi_spec_validator import validate
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def test_the_openapi_schema_describes_every_endpoint():
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json")

    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/api/v1/energy/sources",
        "/api/v1/energy/account",
        "/api/v1/energy/holdings",
        "/api/v1/energy/attributions/{device_id}",
        "/api/v1/energy/attributions/{device_id}/daily",
        "/api/v1/energy/attributions/{device_id}/{attribution_id}/proof",
        "/api/v1/energy/attributions/{device_id}/{attribution_id}/evidence",
        "/api/v1/energy/recs",
        "/api/v1/energy/recs/{rec_id}",
        "/api/v1/energy/recs/{rec_id}/proof",
        "/api/v1/energy/transfers",
        "/api/v1/energy/transfers/{transfer_id}",
        "/api/v1/energy/transfers/{transfer_id}/accept",
        "/api/v1/energy/transfers/{transfer_id}/reject",
        "/api/v1/energy/transfers/{transfer_id}/recall",
        "/api/v1/energy/retirements",
        "/api/v1/energy/retirements/{retirement_id}",
        "/api/v1/energy/tokenizations",
        "/api/v1/energy/tokenizations/{tokenization_id}",
        "/api/v1/energy/tokens/{token_id}/events",
    }
    attribution = schema["components"]["schemas"]["AttributionListItem"]["properties"]
    assert attribution["value"]["type"] == "number"
    assert "remainder" in attribution and "total" in attribution
    assert schema["components"]["securitySchemes"]["bearerToken"]["scheme"] == "bearer"


def test_the_interactive_docs_load_their_assets_locally():
    page = APIClient().get("/api/docs/").content.decode()

    assert "swagger-ui" in page
    assert "cdn.jsdelivr.net" not in page and "unpkg.com" not in page
    asset = APIClient().get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_the_schema_is_valid_openapi_and_documents_every_error():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()

    validate(schema)  # raises on any departure from the OpenAPI 3 specification

    for path, item in schema["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            answer = path.endswith(("accept", "reject", "recall"))
            ok = "201" if method == "post" and not answer else "200"
            assert {ok, "401", "405"} <= set(responses), (path, method)
            if "{" in path:
                assert "404" in responses, path
            for status, response in responses.items():
                if status != ok:
                    content = response["content"]["application/json"]["schema"]
                    assert content == {"$ref": "#/components/schemas/Error"}, (path, status)
    creating = schema["paths"]["/api/v1/energy/retirements"]["post"]
    assert {"name": "Idempotency-Key", "in": "header", "required": True}.items() <= (
        creating["parameters"][0].items()
    )
    body = creating["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][body.rsplit("/", 1)[1]]["properties"]
    assert fields["quantity"] == {"type": "integer", "minimum": 1}
    assert fields["recs"]["items"]["example"] == "12-41"
    parameters = {p["name"]: p for p in schema["paths"]["/api/v1/energy/recs"]["get"]["parameters"]}
    assert parameters["per_page"]["schema"] | {"default": 25} == {
        "type": "integer", "minimum": 1, "maximum": 1000, "default": 25
    }  # fmt: skip
    assert parameters["page"]["schema"]["minimum"] == 0
