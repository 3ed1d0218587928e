from rest_framework import serializers


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
