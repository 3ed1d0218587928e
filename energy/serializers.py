from rest_framework import serializers

from core.fields import DegreesField, MwhField, TimestampField, TonnesCo2Field
from core.serializers import LeafProofSerializer, NestedRecSerializer, WireSerializer


class ParentSourceSerializer(WireSerializer):
    id = serializers.IntegerField()
    created = TimestampField()
    modified = TimestampField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    node_type = serializers.CharField()
    state = serializers.CharField()
    type = serializers.CharField()


class SourceSerializer(ParentSourceSerializer):
    optional = frozenset({"parent", "capacity", "country", "commissioned", "latitude", "longitude"})

    parent = ParentSourceSerializer(required=False)
    # Beyond the spec (optional keys): what a certificate of the source's energy names.
    technology = serializers.CharField()
    country = serializers.CharField(allow_blank=True, required=False)
    commissioned = serializers.DateField(required=False)
    capacity = serializers.IntegerField(source="capacity_wh", required=False, help_text="W")
    latitude = DegreesField(required=False)
    longitude = DegreesField(required=False)

    rec_number = serializers.IntegerField()
    rec_sum = MwhField()
    new_number = serializers.IntegerField()
    new_sum = MwhField()
    without_rec_number = serializers.IntegerField()
    without_rec_sum = MwhField()


class SourceListItemSerializer(SourceSerializer):
    total = serializers.IntegerField(help_text="number of sources of the customer")


class QualitySerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["quarantined", "released", "rejected"],
        help_text="quarantined: held out of RECs until an operator decides; released: "
        "flows on to RECs; rejected: never in a REC",
    )
    reason = serializers.CharField()


class AttributionSerializer(WireSerializer):
    optional = frozenset(
        {"block_id", "carbon_offset", "hash", "height", "quality", "rec", "remainder",
         "state_changed"}
    )  # fmt: skip

    id = serializers.IntegerField()
    created = TimestampField()
    modified = TimestampField(source="last_modified")
    external_id = serializers.CharField()
    effective_time = TimestampField()
    value = MwhField()
    state = serializers.CharField()
    state_changed = TimestampField(required=False)
    hash = serializers.CharField(required=False)
    height = serializers.IntegerField(required=False)
    block_id = serializers.CharField(required=False)
    carbon_offset = TonnesCo2Field(required=False)
    rec = NestedRecSerializer(required=False)
    remainder = MwhField(source="remainder_if_any", required=False)
    quality = QualitySerializer(source="plausibility", required=False)


class AttributionListItemSerializer(AttributionSerializer):
    total = serializers.IntegerField(help_text="number of transactions of the source")


class DailySerializer(WireSerializer):
    optional = frozenset({"rec"})

    effective_time = TimestampField(source="day_start")
    number = serializers.IntegerField()
    state = serializers.CharField()
    value = MwhField()
    rec = NestedRecSerializer(required=False)


class DailyListItemSerializer(DailySerializer):
    total = serializers.IntegerField(help_text="number of daily rows of the source")


class RecTransactionSerializer(AttributionSerializer):
    """A transaction inside /recs/{id}: the REC is the enclosing object."""

    rec = None


class ProofSerializer(LeafProofSerializer):
    """Schema of /attributions/{deviceId}/{id}/proof (chain fields once anchored)."""

    attribution_id = serializers.IntegerField()
    leaf = serializers.CharField(help_text="0x + keccak-256 of the attribution's ABI encoding")
    leaf_fields = serializers.DictField(help_text="what the leaf encodes")


class EvidenceSerializer(serializers.Serializer):
    """Schema of /attributions/{deviceId}/{id}/evidence: the signed reports the
    transaction was read from, and how to check them with keccak and secp256k1 alone."""

    attribution_id = serializers.IntegerField()
    leaf = serializers.CharField(help_text="0x + the v2 leaf, which commits to the evidence")
    leaf_fields = serializers.DictField(help_text="what the leaf encodes, evidence included")
    miner_address = serializers.CharField(allow_null=True)
    start = serializers.DictField(help_text="where the hour's start was read: at, energy, samples")
    end = serializers.DictField(help_text="where the hour's end was read: at, energy, samples")
    reports = serializers.ListField(
        child=serializers.DictField(),
        help_text="id, method, payload (the exact signed text), signature, digest, signer",
    )
    check = serializers.ListField(child=serializers.CharField())
