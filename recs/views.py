from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import IdempotencyKeyRequired, InvalidParameter, NotAnchored
from core.paging import page_from
from core.schema import PAGE_PARAMETERS, errors
from core.serializers import valid_input, with_total
from energy.serializers import RecTransactionSerializer
from recs import selectors
from recs.accounts import account_summary
from recs.idempotency import fingerprint, idempotent
from recs.models import Bundle, Rec, Retirement, Tokenization, Transfer
from recs.retirements import retirement_create
from recs.serializers import (
    AccountSerializer,
    HoldingListItemSerializer,
    HoldingSerializer,
    RecDetailSerializer,
    RecListItemSerializer,
    RecProofSerializer,
    RecSerializer,
    RetirementListItemSerializer,
    RetirementRequestSerializer,
    RetirementSerializer,
    TokenEventListItemSerializer,
    TokenEventSerializer,
    TokenizationListItemSerializer,
    TokenizationRequestSerializer,
    TokenizationSerializer,
    TransferListItemSerializer,
    TransferRequestSerializer,
    TransferSerializer,
)
from recs.tokenizations import token_contract, tokenization_create
from recs.transfers import transfer_answer, transfer_create


class RecListView(APIView):
    @extend_schema(
        operation_id="recs_list",
        parameters=PAGE_PARAMETERS,
        responses={200: RecListItemSerializer(many=True), **errors(400)},
    )
    def get(self, request):
        page = page_from(request)
        total, recs = selectors.rec_list(customer=request.user, page=page)
        selectors.rec_statuses(recs)
        return Response(with_total(total, RecSerializer(recs, many=True).data))


class RecDetailView(APIView):
    @extend_schema(
        operation_id="recs_detail",
        parameters=[
            OpenApiParameter("rec_id", int, OpenApiParameter.PATH, description="the REC's id"),
            *PAGE_PARAMETERS,
        ],
        responses={200: RecDetailSerializer, **errors(400, 404)},
    )
    def get(self, request, rec_id: str):
        page = page_from(request)
        try:
            rec = selectors.rec_get(customer=request.user, rec_id=rec_id)
        except Rec.DoesNotExist:
            raise NotFound(f"No REC {rec_id!r}.") from None
        transactions = selectors.rec_transactions(rec=rec, page=page)
        selectors.rec_statuses([rec])
        body = {"code": 0, **RecSerializer(rec).data}
        body["transactions"] = RecTransactionSerializer(transactions, many=True).data
        return Response(body)


STATUSES = [choice for choice, _ in Bundle.Status.choices]


class HoldingListView(APIView):
    @extend_schema(
        operation_id="holdings_list",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter("source", str, description="a source's id (or own external id)"),
            OpenApiParameter("status", str, enum=STATUSES),
        ],
        responses={200: HoldingListItemSerializer(many=True), **errors(400)},
    )
    def get(self, request):
        page = page_from(request)
        status = _status_param(request, STATUSES)
        source = None
        if (device_id := request.query_params.get("source")) is not None:
            source = selectors.held_source(customer=request.user, device_id=device_id)
            if source is None:
                raise InvalidParameter("source", f"no source {device_id!r} in your holdings")
        total, bundles = selectors.holding_list(
            customer=request.user, page=page, source=source, status=status
        )
        return Response(with_total(total, HoldingSerializer(bundles, many=True).data))


class AccountView(APIView):
    @extend_schema(
        operation_id="account",
        responses={200: AccountSerializer, **errors()},
    )
    def get(self, request):
        return Response(AccountSerializer(account_summary(customer=request.user)).data)


class RecProofView(APIView):
    @extend_schema(
        operation_id="recs_proof",
        parameters=[
            OpenApiParameter("rec_id", int, OpenApiParameter.PATH, description="the REC's id"),
        ],
        responses={200: RecProofSerializer, **errors(404, 409)},
    )
    def get(self, request, rec_id: str):
        try:
            rec = selectors.rec_get(customer=request.user, rec_id=rec_id)
        except Rec.DoesNotExist:
            raise NotFound(f"No REC {rec_id!r}.") from None
        proof = selectors.rec_proof(rec=rec)
        if proof is None:
            raise NotAnchored()
        return Response(proof)


def _status_param(request, choices: list[str]) -> str | None:
    status = request.query_params.get("status")
    if status is not None and status not in choices:
        raise InvalidParameter("status", f"status must be one of {', '.join(choices)}")
    return status


def _held_source_id(request, device_id: str | None) -> int | None:
    """The source a transfer or retirement names, as /holdings shows it; a 404 for a
    source the caller may not see."""
    if device_id is None:
        return None
    source = selectors.held_source(customer=request.user, device_id=device_id)
    if source is None:
        raise NotFound(f"No source {device_id!r} in your holdings.")
    return source.pk


def _idempotent(request, respond) -> Response:
    """Answer a POST that changes the ledger once per ``Idempotency-Key``."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        raise IdempotencyKeyRequired()
    if len(key) > 255:
        raise InvalidParameter("Idempotency-Key", "Idempotency-Key: at most 255 characters")
    status, body = idempotent(
        customer=request.user,
        key=key,
        fingerprint=fingerprint(request.method, request.path, request.data),
        respond=respond,
    )
    return Response(body, status=status)


IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, required=True,
    description="client-chosen, 1-255 characters: the same key and body answer once",
)  # fmt: skip
TRANSFER_STATUSES = [choice for choice, _ in Transfer.Status.choices]


class TransferListView(APIView):
    @extend_schema(
        operation_id="transfers_list",
        parameters=[*PAGE_PARAMETERS, OpenApiParameter("status", str, enum=TRANSFER_STATUSES)],
        responses={200: TransferListItemSerializer(many=True), **errors(400)},
    )
    def get(self, request):
        page = page_from(request)
        status = _status_param(request, TRANSFER_STATUSES)
        total, transfers = selectors.transfer_list(customer=request.user, page=page, status=status)
        return Response(with_total(total, TransferSerializer(transfers, many=True).data))

    @extend_schema(
        operation_id="transfers_create",
        parameters=[IDEMPOTENCY_KEY],
        request=TransferRequestSerializer,
        responses={
            201: TransferSerializer,
            **errors(
                400,
                404,
                409,
                e400="a missing or malformed field (param names it), no Idempotency-Key",
                e404="unknown_account: `to` names no account; not_found: an unknown source",
                e409="insufficient_holdings, or idempotency_key_reused",
                e405="anything but GET and POST",
            ),
        },
    )
    def post(self, request):
        def respond():
            asked = valid_input(TransferRequestSerializer(data=request.data))
            created = transfer_create(
                customer=request.user,
                to=asked["to"],
                quantity=asked.get("quantity"),
                source_id=_held_source_id(request, asked.get("source")),
                serials=asked.get("recs"),
            )
            shown = selectors.transfer_get(customer=request.user, transfer_id=str(created.pk))
            return 201, TransferSerializer(shown).data

        return _idempotent(request, respond)


def _transfer(request, transfer_id: str) -> Transfer:
    try:
        return selectors.transfer_get(customer=request.user, transfer_id=transfer_id)
    except Transfer.DoesNotExist:
        raise NotFound(f"No transfer {transfer_id!r}.") from None


TRANSFER_ID = OpenApiParameter("transfer_id", int, OpenApiParameter.PATH)


class TransferDetailView(APIView):
    @extend_schema(
        operation_id="transfers_detail",
        parameters=[TRANSFER_ID],
        responses={200: TransferSerializer, **errors(404)},
    )
    def get(self, request, transfer_id: str):
        return Response(TransferSerializer(_transfer(request, transfer_id)).data)


class TransferAnswerView(APIView):
    """accept and reject (the receiver), recall (the sender)."""

    answer = ""

    @extend_schema(
        parameters=[TRANSFER_ID],
        request=None,
        responses={
            200: TransferSerializer,
            **errors(
                403,
                404,
                409,
                e403="accept or reject by the sender, recall by the receiver",
                e409="transfer_not_pending: answered already",
                e405="anything but POST",
            ),
        },
    )
    def post(self, request, transfer_id: str):
        transfer = _transfer(request, transfer_id)
        transfer_answer(customer=request.user, transfer=transfer, answer=self.answer)
        return Response(TransferSerializer(_transfer(request, transfer_id)).data)


class RetirementListView(APIView):
    @extend_schema(
        operation_id="retirements_list",
        parameters=PAGE_PARAMETERS,
        responses={200: RetirementListItemSerializer(many=True), **errors(400)},
    )
    def get(self, request):
        page = page_from(request)
        total, retirements = selectors.retirement_list(customer=request.user, page=page)
        shown = RetirementSerializer(retirements, many=True, context={"request": request})
        return Response(with_total(total, shown.data))

    @extend_schema(
        operation_id="retirements_create",
        parameters=[IDEMPOTENCY_KEY],
        request=RetirementRequestSerializer,
        responses={
            201: RetirementSerializer,
            **errors(
                400, 404, 409,
                e400="a missing or malformed field (param names it), no Idempotency-Key",
                e404="not_found: an unknown source",
                e409="insufficient_holdings (eligible under the vintage rule), or "
                "idempotency_key_reused",
                e405="anything but GET and POST",
            ),
        },
    )  # fmt: skip
    def post(self, request):
        def respond():
            asked = valid_input(RetirementRequestSerializer(data=request.data))
            created = retirement_create(
                customer=request.user,
                beneficiary=asked["beneficiary"],
                purpose=asked["purpose"],
                country=asked["country"],
                period_start=asked["period_start"],
                period_end=asked["period_end"],
                quantity=asked.get("quantity"),
                source_id=_held_source_id(request, asked.get("source")),
                serials=asked.get("recs"),
            )
            shown = selectors.retirement_get(customer=request.user, retirement_id=str(created.pk))
            return 201, RetirementSerializer(shown, context={"request": request}).data

        return _idempotent(request, respond)


class RetirementDetailView(APIView):
    @extend_schema(
        operation_id="retirements_detail",
        parameters=[OpenApiParameter("retirement_id", int, OpenApiParameter.PATH)],
        responses={200: RetirementSerializer, **errors(404)},
    )
    def get(self, request, retirement_id: str):
        try:
            retirement = selectors.retirement_get(
                customer=request.user, retirement_id=retirement_id
            )
        except Retirement.DoesNotExist:
            raise NotFound(f"No retirement {retirement_id!r}.") from None
        return Response(RetirementSerializer(retirement, context={"request": request}).data)


class TokenizationListView(APIView):
    @extend_schema(
        operation_id="tokenizations_list",
        parameters=PAGE_PARAMETERS,
        responses={200: TokenizationListItemSerializer(many=True), **errors(400)},
    )
    def get(self, request):
        page = page_from(request)
        total, tokenizations = selectors.tokenization_list(customer=request.user, page=page)
        return Response(with_total(total, TokenizationSerializer(tokenizations, many=True).data))

    @extend_schema(
        operation_id="tokenizations_create",
        parameters=[IDEMPOTENCY_KEY],
        request=TokenizationRequestSerializer,
        responses={
            201: TokenizationSerializer,
            **errors(
                400, 404, 409, 503,
                e400="a missing or malformed field (param names it; a wallet that is not an "
                "address, or the zero address), no Idempotency-Key",
                e404="not_found: an unknown source",
                e409="insufficient_holdings (active RECs only: not those in a pending "
                "transfer), or idempotency_key_reused",
                e503="chain_unavailable: the node does not answer; tokenization_off: no "
                "RecToken contract is configured",
                e405="anything but GET and POST",
            ),
        },
    )  # fmt: skip
    def post(self, request):
        # Asked of the node before the request's transaction (a first use on a local
        # chain deploys it); the mint itself is sent by the chain's worker.
        contract = token_contract()

        def respond():
            asked = valid_input(TokenizationRequestSerializer(data=request.data))
            created = tokenization_create(
                customer=request.user,
                contract=contract,
                wallet=asked["wallet"],
                quantity=asked.get("quantity"),
                source_id=_held_source_id(request, asked.get("source")),
                serials=asked.get("recs"),
            )
            shown = selectors.tokenization_get(
                customer=request.user, tokenization_id=str(created.pk)
            )
            return 201, TokenizationSerializer(shown).data

        return _idempotent(request, respond)


class TokenizationDetailView(APIView):
    @extend_schema(
        operation_id="tokenizations_detail",
        parameters=[OpenApiParameter("tokenization_id", int, OpenApiParameter.PATH)],
        responses={200: TokenizationSerializer, **errors(404)},
    )
    def get(self, request, tokenization_id: str):
        try:
            tokenization = selectors.tokenization_get(
                customer=request.user, tokenization_id=tokenization_id
            )
        except Tokenization.DoesNotExist:
            raise NotFound(f"No tokenization {tokenization_id!r}.") from None
        return Response(TokenizationSerializer(tokenization).data)


class TokenEventListView(APIView):
    @extend_schema(
        operation_id="token_events_list",
        parameters=[OpenApiParameter("token_id", str, OpenApiParameter.PATH,
                                     description="decimal, or 64 hex digits"), *PAGE_PARAMETERS],
        responses={200: TokenEventListItemSerializer(many=True),
                   **errors(400, 404, e404="not a token id")},
    )  # fmt: skip
    def get(self, request, token_id: str):
        page = page_from(request)
        try:
            total, events = selectors.token_event_list(token=token_id, page=page)
        except LookupError:
            raise NotFound(f"{token_id!r} is not a token id.") from None
        return Response(with_total(total, TokenEventSerializer(events, many=True).data))
