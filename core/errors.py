"""Every error leaves as a small JSON object: never an HTML page or a traceback.

Shape: ``{"code": <HTTP status>, "error": <machine word>, "message": <text>}``
plus ``"param"`` naming the query parameter at fault.
"""

import logging

from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response

log = logging.getLogger(__name__)


class InvalidParameter(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_parameter"

    def __init__(self, param: str, message: str):
        super().__init__(message)
        self.param = param


class Refused(exceptions.APIException):
    """An error whose ``error`` word is its ``default_code`` (the spec's word)."""


class Conflict(Refused):
    """A 409: the request is sound, but the object is not in a state to answer it."""

    status_code = status.HTTP_409_CONFLICT


class IdempotencyKeyRequired(Refused):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "idempotency_key_required"
    default_detail = "This request changes the ledger: send an Idempotency-Key header."


class UnknownAccount(Refused):
    status_code = status.HTTP_404_NOT_FOUND
    default_code = "unknown_account"
    default_detail = "No account has this code."


class IdempotencyKeyReused(Conflict):
    default_code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was used before with another request."


class InsufficientHoldings(Conflict):
    default_code = "insufficient_holdings"


class TransferNotPending(Conflict):
    default_code = "transfer_not_pending"


class NotAnchored(Conflict):
    default_code = "not_anchored"
    default_detail = "Not sealed into a ledger block yet; try again after the next anchoring."


class NoEvidence(Conflict):
    default_code = "no_evidence"
    default_detail = (
        "This transaction was not read from signed reports (consumption, or an hour made "
        "before reports kept their signed text): it has no evidence to show."
    )


class ChainUnavailable(Refused):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "chain_unavailable"
    default_detail = "The chain node does not answer; nothing was changed. Try again later."


class TokenizationOff(Refused):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "tokenization_off"
    default_detail = "This engine tokenizes no RECs: no RecToken contract is configured."


def error_body(code: int, error: str, message: str, **extra) -> dict:
    return {"code": code, "error": error, "message": message, **extra}


_ERROR_WORDS = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    415: "unsupported_media_type",
    429: "throttled",
}


def api_exception_handler(exc, context):
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # DRF answers 403 when no scheme is advertised; ours always is.
        exc.status_code = status.HTTP_401_UNAUTHORIZED
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's handler500 answers, in JSON too
    if isinstance(exc, exceptions.ParseError):  # a body that is not JSON
        exc = InvalidParameter("body", f"body: {exc.detail}")
    extra = {"param": exc.param} if isinstance(exc, InvalidParameter) else {}
    if isinstance(exc, exceptions.ValidationError | InvalidParameter):
        word = "invalid_parameter"
    elif isinstance(exc, Refused):
        word = exc.default_code
    else:
        word = _ERROR_WORDS.get(exc.status_code, "error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    response = Response(error_body(exc.status_code, word, str(detail), **extra), exc.status_code)
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        response["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def _json_error(code: int, error: str, message: str) -> JsonResponse:
    return JsonResponse(error_body(code, error, message), status=code)


def bad_request(request, exception=None):
    return _json_error(400, "bad_request", "Bad request.")


def forbidden(request, exception=None):
    return _json_error(403, "forbidden", "Forbidden.")


def not_found(request, exception=None):
    return _json_error(404, "not_found", "Not found.")


def server_error(request):
    return _json_error(500, "internal_error", "Internal error; it has been logged.")
