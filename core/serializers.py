from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.errors import InvalidParameter
from core.fields import MwhField, TimestampField


class WireSerializer(serializers.Serializer):
    """Output-only serializer whose ``optional`` fields are absent until they have a
    value (None, or a blank string such as an unknown country)."""

    optional: frozenset[str] = frozenset()

    def to_representation(self, instance) -> dict:
        data = super().to_representation(instance)
        for name in self.optional:
            if data.get(name) in (None, ""):
                data.pop(name, None)
        return data


def with_total(total: int, rows: list[dict]) -> list[dict]:
    """The spec's list shape: a bare array whose every element carries ``total``."""
    return [{"total": total, **row} for row in rows]


class RecSerializer(WireSerializer):
    """The spec's REC object: the REC endpoints and a transaction's ``rec`` key render it."""

    optional = frozenset({"hash", "height", "state_changed", "status"})

    id = serializers.IntegerField()
    created = TimestampField()
    modified = TimestampField()
    hash = serializers.CharField(required=False)
    height = serializers.IntegerField(required=False)
    state = serializers.CharField()
    state_changed = TimestampField(required=False)
    value = MwhField()
    # Beyond the CG spec (the lifecycle contract): "<source id>-<n>", and where the REC
    # stands in its life (active, in_transfer, retired) where the reader looked it up.
    serial = serializers.CharField(source="serial_number")
    status = serializers.CharField(required=False)


class NestedRecSerializer(RecSerializer):
    """A REC inside each of its transactions: rendered once per response, then reused."""

    def to_representation(self, instance) -> dict:
        cache = self.__dict__.setdefault("_rendered", {})
        if instance.pk not in cache:
            cache[instance.pk] = super().to_representation(instance)
        return cache[instance.pk]


class LeafProofSerializer(serializers.Serializer):
    """The Merkle proof of a leaf and where its root is anchored (chain fields once sent)."""

    proof = serializers.ListField(child=serializers.CharField())
    root = serializers.CharField()
    ledger_height = serializers.IntegerField()
    ledger_block_hash = serializers.CharField()
    previous_block_hash = serializers.CharField()
    leaf_count = serializers.IntegerField()
    status = serializers.CharField()
    chain_id = serializers.IntegerField(required=False)
    contract_address = serializers.CharField(required=False)
    transaction_hash = serializers.CharField(required=False)
    chain_block_number = serializers.IntegerField(required=False)
    chain_block_hash = serializers.CharField(required=False)


def valid_input(serializer: serializers.Serializer) -> dict:
    """The serializer's validated data, or an ``InvalidParameter`` naming the first field
    at fault (the spec's ``param``): a request body is checked whole before any work."""
    if not isinstance(serializer.initial_data, dict):
        raise InvalidParameter("body", "the body must be a JSON object")
    if serializer.is_valid():
        return serializer.validated_data
    field, messages = next(iter(serializer.errors.items()))
    message = messages[0] if isinstance(messages, list) else messages
    if isinstance(message, dict):  # a nested field: name the first inner one
        inner, message = next(iter(message.items()))
        field, message = f"{field}.{inner}", message[0]
    param = "body" if field == "non_field_errors" else field
    raise InvalidParameter(param, f"{param}: {message}")


@extend_schema_field({"type": "integer", "minimum": 1})
class PositiveIntegerField(serializers.Field):
    """A JSON integer >= 1: not a string, a float or a boolean (1 REC = 1 MWh is whole)."""

    def to_internal_value(self, data) -> int:
        if isinstance(data, bool) or not isinstance(data, int) or data < 1:
            raise serializers.ValidationError("must be a positive integer")
        if data > 2**62:
            raise serializers.ValidationError("is too large")
        return data
