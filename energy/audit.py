"""What the ledger audit checks of energy's rows: every hour recomputed from the
readings, every reading found in its report's signed text, every /daily row and
source counter recomputed from the attributions; each difference named."""

from collections import Counter, defaultdict
from collections.abc import Iterator

from eth_utils import keccak

from energy.daily import _aggregate, _count, _listing_key
from energy.evidence import evidence_for, hour_reports
from energy.hourly import HOUR, Progress, close_hours, from_micros, to_micros
from energy.ingestion import signed_samples
from energy.models import Attribution, DailyAggregate, Reading, Report, Source

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


def reading_problems() -> Iterator[str]:
    """Every hour read from readings, recomputed from them: its value, and the evidence
    its leaf commits to from the reports' signed text; named where they differ."""
    ids = list(
        Source.objects.filter(readings__isnull=False)
        .order_by("pk")
        .distinct()
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), CHUNK):
        yield from _readings_chunk(ids[start : start + CHUNK])


def _readings_chunk(source_ids: list[int]) -> Iterator[str]:
    digests, said = {}, {}
    reports = Report.objects.filter(source_id__in=source_ids).values_list("pk", "signed", "digest")
    for pk, signed, digest in reports:
        # The evidence is recomputed from the text itself, not from the stored digest.
        digests[pk] = None
        if signed and digest is not None:
            digests[pk] = keccak(signed.encode())
            if digests[pk] != bytes(digest):
                yield f"report {pk}: its digest is not the hash of its signed text"
        if signed:
            said[pk] = set(signed_samples(signed))
    samples: dict[int, tuple[list, list]] = defaultdict(lambda: ([], []))
    readings = Reading.objects.filter(source_id__in=source_ids).order_by("source_id", "sample_time")
    for pk, sid, when, power, energy, report_id in readings.values_list(
        "pk", "source_id", "sample_time", "power", "energy", "report_id"
    ):
        if report_id in said and (when, power, energy) not in said[report_id]:
            yield f"reading {pk}: not a sample of the signed text of report {report_id}"
        samples[sid][0].append((to_micros(when), energy))
        samples[sid][1].append(report_id)
    sources = Source.objects.in_bulk(source_ids)
    rows = Attribution.objects.filter(source_id__in=source_ids).order_by("source_id", "seq")
    made: dict[int, list] = defaultdict(list)
    for row in rows.only("source_id", "effective_time", "value", "evidence"):
        made[row.source_id].append(row)
    for sid in source_ids:
        points, report_ids = samples[sid]
        hours, _ = close_hours(points, Progress())
        times = [t for t, _ in points]
        sign = -1 if sources[sid].type == Source.Type.CONSUMER else 1
        if len(made[sid]) > len(hours):
            yield f"source {sid}: {len(made[sid])} attributions, its readings close {len(hours)}"
        for row, (hour, energy) in zip(made[sid], hours, strict=False):
            if to_micros(row.effective_time) != hour or row.value != sign * energy:
                expected = f"{sign * energy} mWh at {from_micros(hour):%Y-%m-%dT%H}Z"
                yield (
                    f"attribution {row.pk}: {row.value} mWh at {row.effective_time:%Y-%m-%dT%H}Z,"
                    f" but its readings give {expected}"
                )
                continue
            if row.evidence is None:
                continue
            reports = hour_reports(times, report_ids, hour, hour + HOUR)
            if evidence_for(reports, digests) != bytes(row.evidence):
                yield f"attribution {row.pk}: its evidence is not the hash of its reports' text"
