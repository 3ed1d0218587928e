from rest_framework import serializers

from cg.fields import MwhField, TimestampField
from cg.serializers import WireSerializer


class RecSerializer(WireSerializer):
    optional = frozenset({"hash", "height", "state_changed"})

    id = serializers.IntegerField()
    created = TimestampField()
    modified = TimestampField()
    hash = serializers.CharField(required=False)
    height = serializers.IntegerField(required=False)
    state = serializers.CharField()
    state_changed = TimestampField(required=False)
    value = MwhField()


class NestedRecSerializer(RecSerializer):
    """A REC inside each of its transactions: rendered once per response, then reused."""

    def to_representation(self, instance) -> dict:
        cache = self.__dict__.setdefault("_rendered", {})
        if instance.pk not in cache:
            cache[instance.pk] = super().to_representation(instance)
        return cache[instance.pk]


class RecListItemSerializer(RecSerializer):
    total = serializers.IntegerField(help_text="number of RECs of the customer")


class RecDetailSerializer(RecSerializer):
    """Schema of /recs/{id}: the REC, ``code`` 0 and one page of its transactions."""

    code = serializers.IntegerField()
    transactions = serializers.ListField(child=serializers.DictField())
