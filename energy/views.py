from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import NoEvidence, NotAnchored
from core.paging import page_from
from core.schema import PAGE_PARAMETERS, errors
from core.serializers import with_total
from energy import selectors
from energy.models import Attribution, Source
from energy.serializers import (
    AttributionListItemSerializer,
    AttributionSerializer,
    DailyListItemSerializer,
    DailySerializer,
    EvidenceSerializer,
    ProofSerializer,
    SourceListItemSerializer,
    SourceSerializer,
)

DEVICE_ID = OpenApiParameter(
    "device_id",
    str,
    OpenApiParameter.PATH,
    description="the source's internal id or its external_id",
)


def _source(request, device_id: str) -> Source:
    try:
        return selectors.source_find(customer=request.user, device_id=device_id)
    except Source.DoesNotExist:
        raise NotFound(f"No source {device_id!r}.") from None


def _attribution(request, device_id: str, attribution_id: str) -> Attribution:
    source = _source(request, device_id)
    try:
        return selectors.attribution_get(source=source, attribution_id=attribution_id)
    except Attribution.DoesNotExist:
        raise NotFound(f"No transaction {attribution_id!r} of this source.") from None


ATTRIBUTION_PARAMETERS = [DEVICE_ID, OpenApiParameter("attribution_id", int, OpenApiParameter.PATH)]


class SourceListView(APIView):
    @extend_schema(
        operation_id="sources_list",
        parameters=PAGE_PARAMETERS,
        responses={200: SourceListItemSerializer(many=True), **errors(400)},
    )
    def get(self, request):
        page = page_from(request)
        total, sources = selectors.source_list(customer=request.user, page=page)
        return Response(with_total(total, SourceSerializer(sources, many=True).data))


class AttributionListView(APIView):
    @extend_schema(
        operation_id="attributions_list",
        parameters=[DEVICE_ID, *PAGE_PARAMETERS],
        responses={200: AttributionListItemSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request, device_id: str):
        page = page_from(request)
        source = _source(request, device_id)
        total, rows = selectors.attribution_page(source=source, page=page)
        return Response(with_total(total, AttributionSerializer(rows, many=True).data))


class ProofView(APIView):
    @extend_schema(
        operation_id="attribution_proof",
        parameters=ATTRIBUTION_PARAMETERS,
        responses={200: ProofSerializer, **errors(404, 409)},
    )
    def get(self, request, device_id: str, attribution_id: str):
        attribution = _attribution(request, device_id, attribution_id)
        proof = selectors.attribution_proof(attribution=attribution)
        if proof is None:
            raise NotAnchored()
        return Response(proof)


class EvidenceView(APIView):
    @extend_schema(
        operation_id="attribution_evidence",
        parameters=ATTRIBUTION_PARAMETERS,
        responses={
            200: EvidenceSerializer,
            **errors(404, 409, e409="not read from signed reports (error no_evidence)"),
        },
    )
    def get(self, request, device_id: str, attribution_id: str):
        attribution = _attribution(request, device_id, attribution_id)
        evidence = selectors.attribution_evidence(attribution=attribution)
        if evidence is None:
            raise NoEvidence()
        return Response(evidence)


class DailyListView(APIView):
    @extend_schema(
        operation_id="attributions_daily",
        parameters=[DEVICE_ID, *PAGE_PARAMETERS],
        responses={200: DailyListItemSerializer(many=True), **errors(400, 404)},
    )
    def get(self, request, device_id: str):
        page = page_from(request)
        source = _source(request, device_id)
        total, rows = selectors.daily_page(source=source, page=page)
        return Response(with_total(total, DailySerializer(rows, many=True).data))
