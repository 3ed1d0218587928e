"""``POST /v1``: the JSON-RPC 2.0 door devices push their data through.

Single calls, batches (answered by an array in the same order) and
notifications (no ``id``: processed, not answered). Protocol faults use the
standard codes; the methods' own codes are in ``energy.ingestion``.
"""

import datetime as dt
import json
import logging
import re
import uuid

from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from energy import ingestion
from energy.auth import customer_for_bearer
from energy.ingestion import RpcError
from energy.metrics import reports_answered

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024
MAX_BATCH = 1000
_ABSENT = object()


class NotAnInteger:
    """What a float, NaN, Infinity or an over-long integer parses to: refused later."""

    def __init__(self, text: str):
        self.text = text


def _parse_int(text: str):
    return int(text) if len(text) <= 20 else NotAnInteger(text)


MAX_DEPTH = 32
_ESCAPES = re.compile(rb"\\\\|\\\"")
_STRINGS = re.compile(rb'"[^"]*"')
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def _depth(body: bytes) -> int:
    """How deeply the JSON nests, read without recursing.

    Libraries the engine loads (py_ecc, py-evm) raise the interpreter's
    recursion limit to 100,000, past what the C stack holds, so the JSON
    parser must never meet deep nesting: strings are cut out (escapes first),
    and the brackets left over are counted.
    """
    brackets = _STRINGS.sub(b"", _ESCAPES.sub(b"", body)).translate(None, _NOT_BRACKETS)
    depth = deepest = 0
    for byte in brackets:
        depth += 1 if byte in b"[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _decode(body: bytes):
    if _depth(body) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return json.loads(
        body, parse_float=NotAnInteger, parse_constant=NotAnInteger, parse_int=_parse_int
    )


def _response(payload, status: int = 200) -> HttpResponse:
    if payload is None:
        return HttpResponse(status=204)
    return HttpResponse(
        json.dumps(payload, separators=(",", ":")), status=status, content_type="application/json"
    )


def _error(call_id, error: RpcError) -> dict:
    return {"jsonrpc": "2.0", "id": call_id, "error": error.as_dict()}


def _invalid_request(reason: str) -> RpcError:
    return RpcError(-32600, "Invalid Request", {"reason": reason})


class Call:
    """One call of a request: its id, whether it wants an answer, and its outcome."""

    def __init__(self, raw):
        self.id = None
        self.notification = False
        self.method = None
        self.params = None
        self.result = None
        self.error: RpcError | None = None
        self.push = None
        try:
            self._read(raw)
        except RpcError as error:
            self.error = error

    def _read(self, raw) -> None:
        if not isinstance(raw, dict):
            raise _invalid_request("a call must be an object")
        call_id = raw.get("id", _ABSENT)
        if call_id is _ABSENT:
            self.notification = True
        elif call_id is None or isinstance(call_id, str) or type(call_id) is int:
            self.id = call_id
        else:
            raise _invalid_request("id must be a string, an integer or null")
        if raw.get("jsonrpc") != "2.0":
            raise _invalid_request('jsonrpc must be "2.0"')
        if not isinstance(raw.get("method"), str):
            raise _invalid_request("method must be a string")
        self.method = raw["method"]
        self.params = raw.get("params")
        if self.params is not None and not isinstance(self.params, dict | list):
            raise _invalid_request("params must be an object or an array")

    def answer(self) -> dict | None:
        # A notification is never answered, unless it was not a valid call at all.
        if self.notification and (self.error is None or self.error.code != -32600):
            return None
        if self.error is not None:
            return _error(self.id, self.error)
        return {"jsonrpc": "2.0", "id": self.id, "result": self.result}


SUCCESS = {"tx_reportMinerPoGG": "200", "edr_reportConsumeData": "OK"}


def _prepare(call: Call, request, now: dt.datetime, customer_cache: dict) -> None:
    """Check a call as far as can be done without the database's locks."""
    if call.method == "tx_reportMinerPoGG":
        call.push = ingestion.pogg_parse(call.params, now)
    elif call.method == "edr_reportConsumeData":
        if "customer" not in customer_cache:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            customer_cache["customer"] = customer_for_bearer(header)[0] if header else None
        call.push = ingestion.consume_parse(call.params, customer_cache["customer"], now)
    elif call.method == "net_getMinerByAddress":
        call.result = ingestion.miner_by_address(call.params)
    else:
        raise RpcError(-32601, "Method not found", {"method": call.method})


def _run(calls: list[Call], request) -> None:
    now = dt.datetime.now(dt.UTC)
    customer_cache: dict = {}
    for call in calls:
        if call.error is not None:
            continue
        try:
            _prepare(call, request, now, customer_cache)
        except RpcError as error:
            call.error = error
        except Exception:
            log.exception("JSON-RPC call %s failed", call.method)
            call.error = RpcError(-32603, "Internal error")
    pushing = [c for c in calls if c.push is not None]
    if pushing:
        _store(pushing, now)
    reports_answered(
        (call.method, "accepted" if call.error is None else str(call.error.code),
         len(call.push.samples) if call.push is not None else 0)
        for call in calls
        if call.method in SUCCESS
    )  # fmt: skip


def _store(pushing: list[Call], now: dt.datetime) -> None:
    try:
        outcomes = ingestion.pushes_store(
            [c.push for c in pushing], request_id=uuid.uuid4(), received=now
        )
    except Exception:
        log.exception("storing %d reports failed", len(pushing))
        outcomes = [RpcError(-32603, "Internal error")] * len(pushing)
    for call, outcome in zip(pushing, outcomes, strict=True):
        if outcome is None:
            call.result = SUCCESS[call.method]
        else:
            call.error = outcome


@csrf_exempt
def rpc(request) -> HttpResponse:
    if request.method != "POST":
        return _response(_error(None, _invalid_request("use POST")), status=405)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if not declared.isdigit() or int(declared) > MAX_BODY:
        return _response(_error(None, _invalid_request("the body is over 1 MiB")), status=413)
    body = request.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        return _response(_error(None, _invalid_request("the body is over 1 MiB")), status=413)
    try:
        payload = _decode(body)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError included
        return _response(_error(None, RpcError(-32700, "Parse error")))
    if isinstance(payload, list):
        if not payload:
            return _response(_error(None, _invalid_request("empty batch")))
        if len(payload) > MAX_BATCH:
            reason = f"at most {MAX_BATCH} calls per batch"
            return _response(_error(None, _invalid_request(reason)))
        calls = [Call(raw) for raw in payload]
        _run(calls, request)
        answers = [a for a in (c.answer() for c in calls) if a is not None]
        return _response(answers or None)
    call = Call(payload)
    _run([call], request)
    return _response(call.answer())
