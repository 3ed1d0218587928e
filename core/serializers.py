from rest_framework import serializers

from core.fields import MwhField, TimestampField


class WireSerializer(serializers.Serializer):
    """Output-only serializer whose ``optional`` fields are absent until they have a value."""

    optional: frozenset[str] = frozenset()

    def to_representation(self, instance) -> dict:
        data = super().to_representation(instance)
        for name in self.optional:
            if data.get(name) is None:
                data.pop(name, None)
        return data


def with_total(total: int, rows: list[dict]) -> list[dict]:
    """The spec's list shape: a bare array whose every element carries ``total``."""
    return [{"total": total, **row} for row in rows]


class RecSerializer(WireSerializer):
    """The spec's REC object: the REC endpoints and a transaction's ``rec`` key render it."""

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
