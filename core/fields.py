"""DRF fields of the wire format: exact MWh numbers and spec timestamps."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.units import decimal_text
from core.wire import RawNumber, timestamp


@extend_schema_field({"type": "number", "description": "MWh, exact to the mWh"})
class MwhField(serializers.Field):
    """Integer mWh inside, an exact decimal MWh JSON number outside."""

    scale = 9

    def to_representation(self, value: int) -> RawNumber:
        return RawNumber(decimal_text(value, self.scale))


@extend_schema_field({"type": "number", "description": "tonnes of CO2, exact to the mg"})
class TonnesCo2Field(MwhField):
    pass  # stored in mg; 1 t = 10**9 mg, the same shift as mWh to MWh


@extend_schema_field(
    {
        "type": "string",
        "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$",
        "example": "2019-02-20T17:17:42.106+0000",
    }
)
class TimestampField(serializers.Field):
    def to_representation(self, value) -> str:
        return timestamp(value)


@extend_schema_field({"type": "number", "description": "decimal degrees"})
class DegreesField(serializers.Field):
    """A coordinate in decimal degrees, written digit for digit as a JSON number."""

    def to_representation(self, value) -> RawNumber:
        return RawNumber(format(value.normalize(), "f"))
