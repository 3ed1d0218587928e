"""RECs as ERC-1155 tokens (chain/contracts/RecToken.sol): token ids and their metadata.

One token id per bundle origin: a source and a vintage month, the month in which a
REC's production starts. ``id = source id x 1,000,000 + year x 100 + month``, so a
person reads it (12202403: source 12, March 2024). The contract's ``uri`` holds
``{id}``, which wallets replace with the id as 64 hex digits (ERC-1155 metadata);
``/tokens/<id>.json`` answers for either form.
"""

import datetime as dt
import re

from django.db.models import Count, QuerySet
from django.db.models.functions import TruncMonth

from energy.models import Source
from recs.models import Rec

_HEX_ID = re.compile(r"[0-9a-fA-F]{64}")
_DECIMAL_ID = re.compile(r"[1-9][0-9]{0,30}")


def token_id(source_id: int, vintage: dt.date) -> int:
    return source_id * 1_000_000 + vintage.year * 100 + vintage.month


def token_origin(text: str) -> tuple[int, dt.date] | None:
    """(source id, first day of the vintage month) of a token id written as 64 hex digits
    or in decimal; None for anything that is not a well-formed id."""
    if _HEX_ID.fullmatch(text):
        value = int(text, 16)
    elif _DECIMAL_ID.fullmatch(text):
        value = int(text)
    else:
        return None
    source_id, month_code = divmod(value, 1_000_000)
    year, month = divmod(month_code, 100)
    if source_id < 1 or not (1 <= month <= 12 and 1970 <= year <= 9999):
        return None
    return source_id, dt.date(year, month, 1)


def vintage_bounds(vintage: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start, end) of a vintage month, UTC: where a token id's RECs start production."""
    start = dt.datetime.combine(vintage, dt.time(), dt.UTC)
    end = dt.datetime.combine((vintage + dt.timedelta(days=32)).replace(day=1), dt.time(), dt.UTC)
    return start, end


def recs_by_token(recs: QuerySet) -> dict[int, int]:
    """How many of these RECs each token id holds (source, month production starts)."""
    months = (
        recs.annotate(month=TruncMonth("production_start", tzinfo=dt.UTC))
        .values("source_id", "month")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {token_id(row["source_id"], row["month"].date()): row["n"] for row in months}


def token_metadata(*, text: str) -> dict | None:
    """The ERC-1155 metadata JSON of a token id, or None when no REC of that source
    started its production in that month."""
    origin = token_origin(text)
    if origin is None:
        return None
    source_id, vintage = origin
    source = Source.objects.filter(pk=source_id).first()
    if source is None:
        return None
    start, end = vintage_bounds(vintage)
    issued = Rec.objects.filter(
        source=source, production_start__gte=start, production_start__lt=end
    ).aggregate(n=Count("pk"))["n"]
    if not issued:
        return None
    month = f"{vintage:%Y-%m}"
    attributes = {
        "source_id": source.pk,
        "source": source.name,
        "technology": source.technology,
        "vintage": month,
        "unit": "1 MWh a token",
        "recs_issued": issued,
    }
    if source.country:
        attributes["country"] = source.country
    if source.capacity_wh:
        attributes["capacity_w"] = source.capacity_wh
    if source.commissioned:
        attributes["commissioned"] = source.commissioned.isoformat()
    return {
        "name": f"REC {source.name} {month}",
        "description": (
            f"Renewable energy certificates of 1 MWh each from {source.name} "
            f"({source.get_technology_display()}), produced from {month}, issued by cg."
        ),
        "decimals": 0,
        "properties": attributes,
    }
