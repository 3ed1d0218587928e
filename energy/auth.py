import hashlib
import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from energy.models import ApiToken

TOKEN_FORMAT = re.compile(r"0x[0-9a-fA-F]{64}")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.lower().encode("ascii")).hexdigest()


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer 0x<64 hex>``; the principal is the Customer."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not TOKEN_FORMAT.fullmatch(token):
            raise exceptions.AuthenticationFailed("Malformed bearer token.")
        found = (
            ApiToken.objects.select_related("customer")
            .filter(digest=token_digest(token), revoked__isnull=True)
            .first()
        )
        if found is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        return found.customer, found

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "0x + 64 hex digits"}
