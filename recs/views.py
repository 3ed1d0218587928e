from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import InvalidParameter, NotAnchored
from core.paging import page_from
from core.schema import PAGE_PARAMETERS, errors
from core.serializers import with_total
from energy.serializers import RecTransactionSerializer
from recs import selectors
from recs.accounts import account_summary
from recs.models import Bundle, Rec
from recs.serializers import (
    AccountSerializer,
    HoldingListItemSerializer,
    HoldingSerializer,
    RecDetailSerializer,
    RecListItemSerializer,
    RecProofSerializer,
    RecSerializer,
)


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
        status = request.query_params.get("status")
        if status is not None and status not in STATUSES:
            raise InvalidParameter("status", f"status must be one of {', '.join(STATUSES)}")
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
