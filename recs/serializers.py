from rest_framework import serializers

from core.fields import TimestampField
from core.serializers import LeafProofSerializer, RecSerializer, WireSerializer


class RecListItemSerializer(RecSerializer):
    total = serializers.IntegerField(help_text="number of RECs of the customer")


class RecDetailSerializer(RecSerializer):
    """Schema of /recs/{id}: the REC, ``code`` 0 and one page of its transactions."""

    code = serializers.IntegerField()
    transactions = serializers.ListField(child=serializers.DictField())


class RecProofSerializer(LeafProofSerializer):
    """Schema of /recs/{id}/proof: the REC's leaf, what it covers, and its Merkle proof."""

    rec_id = serializers.IntegerField()
    leaf = serializers.CharField(
        help_text="0x + keccak-256(keccak256('cg.rec.v1') ‖ client id ‖ (member leaf ‖ "
        "uint256 mWh taken) for each member)"
    )
    leaf_fields = serializers.DictField(
        help_text="client_id, and members: attribution_id, device_id, leaf, taken (mWh)"
    )


class AccountSerializer(serializers.Serializer):
    """Schema of /account (cg-rec-lifecycle-api.md, Accounts)."""

    account = serializers.CharField(help_text="the public code a seller sends RECs to")
    name = serializers.CharField()
    created = TimestampField()
    held = serializers.IntegerField(help_text="RECs held active")
    retired = serializers.IntegerField(help_text="RECs retired")


class HoldingSourceSerializer(WireSerializer):
    optional = frozenset({"country", "capacity", "commissioned"})

    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    technology = serializers.CharField()
    country = serializers.CharField(required=False)
    capacity = serializers.IntegerField(source="capacity_wh", required=False, help_text="W")
    commissioned = serializers.DateField(required=False)


class HoldingSerializer(WireSerializer):
    """A bundle of /holdings: a run of serials of one source in one status."""

    source = HoldingSourceSerializer()
    first = serializers.SerializerMethodField()
    last = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    production_start = TimestampField()
    production_end = TimestampField()

    def get_first(self, bundle) -> str:
        return f"{bundle.source_id}-{bundle.first}"

    def get_last(self, bundle) -> str:
        return f"{bundle.source_id}-{bundle.last}"


class HoldingListItemSerializer(HoldingSerializer):
    total = serializers.IntegerField(help_text="number of bundles listed")
