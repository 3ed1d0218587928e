"""What the ledger audit checks of energy's derived rows: every /daily row and source
counter recomputed from the attributions, and named where it differs."""

from collections import Counter, defaultdict
from collections.abc import Iterator

from energy.daily import _aggregate, _count, _listing_key
from energy.models import Attribution, DailyAggregate, Source

CHUNK = 200  # sources a pass


def derived_problems() -> Iterator[str]:
    ids = list(Source.objects.order_by("pk").values_list("pk", flat=True))
    for start in range(0, len(ids), CHUNK):
        yield from _chunk_problems(ids[start : start + CHUNK])


def _chunk_problems(source_ids: list[int]) -> Iterator[str]:
    days = (
        Attribution.objects.filter(source_id__in=source_ids)
        .order_by()
        .values_list("source_id", "effective_time__date")
        .distinct()
    )
    fresh = _aggregate(sorted(days)) if source_ids else {}
    stored: dict[int, list[tuple]] = defaultdict(list)
    for row in DailyAggregate.objects.filter(source_id__in=source_ids).order_by("source_id", "seq"):
        stored[row.source_id].append(
            (row.seq, (row.day, row.state, row.rec_id, row.number, row.value))
        )
    sources = Source.objects.filter(pk__in=source_ids).values(
        "pk", "attribution_count", "daily_count", *Source.COUNTERS
    )
    for source in sources:
        pk = source["pk"]
        expected = sorted(fresh.get(pk, []), key=_listing_key, reverse=True)
        rows = [row for _, row in stored[pk]]
        if Counter(rows) != Counter(expected):
            yield f"source {pk}: its daily rows are not what its attributions add up to"
        elif rows != expected or [seq for seq, _ in stored[pk]] != list(range(1, len(rows) + 1)):
            yield f"source {pk}: its daily rows are out of order or misnumbered"
        if source["daily_count"] != len(rows):
            yield f"source {pk}: daily_count {source['daily_count']}, but {len(rows)} daily rows"
        counters = Counter()
        for _, state, rec_id, number, value in expected:
            _count(counters, state, rec_id, number, value)
        for name in (*Source.COUNTERS, "attribution_count"):
            if source[name] != counters[name]:
                yield (
                    f"source {pk}: {name} is {source[name]}, its attributions give {counters[name]}"
                )
