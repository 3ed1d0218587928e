"""What every read endpoint shares in its OpenAPI description: paging and errors."""

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, inline_serializer
from rest_framework import serializers

from core.paging import DEFAULT_PER_PAGE, MAX_PAGE

PAGE_PARAMETERS = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 0, "maximum": MAX_PAGE},
        description="0-based page number",
        default=0,
    ),
    OpenApiParameter(
        "per_page",
        {"type": "integer", "minimum": 1, "maximum": settings.API_MAX_PER_PAGE},
        description="records per page, 1 to API_MAX_PER_PAGE (1000 unless configured)",
        default=DEFAULT_PER_PAGE,
    ),
]

ERROR = inline_serializer(
    "Error",
    {
        "code": serializers.IntegerField(help_text="the HTTP status"),
        "error": serializers.CharField(help_text="a machine word: invalid_parameter, ..."),
        "message": serializers.CharField(),
        "param": serializers.CharField(required=False, help_text="the parameter at fault"),
    },
)


def errors(*statuses: int, **why: str) -> dict[int, OpenApiResponse]:
    """The error responses an endpoint documents: 401 always, and these; ``why``
    (``e409="..."``) says what one status means for this endpoint."""
    described = {
        400: "a bad page or per_page (param names it)",
        401: "no, malformed, unknown or revoked bearer token",
        404: "unknown, or another customer's",
        405: "anything but GET",
        409: "not sealed into a ledger block yet",
    }
    described |= {int(key[1:]): text for key, text in why.items()}
    return {s: OpenApiResponse(ERROR, description=described[s]) for s in (401, 405, *statuses)}
