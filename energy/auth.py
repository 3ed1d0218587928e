import hashlib
import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from energy.models import ApiToken, Customer

TOKEN_FORMAT = re.compile(r"0x[0-9a-fA-F]{64}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.lower().encode("ascii")).hexdigest()


def customer_for_bearer(header: str) -> tuple[Customer | None, str]:
    """The customer an ``Authorization: Bearer …`` header names, or None and why not."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not TOKEN_FORMAT.fullmatch(token):
        return None, "Malformed bearer token."
    found = (
        ApiToken.objects.select_related("customer")
        .filter(digest=token_digest(token), revoked__isnull=True)
        .first()
    )
    if found is None:
        return None, "Invalid or revoked token."
    return found.customer, ""


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer 0x<64 hex>``; the principal is the Customer."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        customer, why_not = customer_for_bearer(header)
        if customer is None:
            raise exceptions.AuthenticationFailed(why_not)
        return customer, None

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "0x + 64 hex digits"}
