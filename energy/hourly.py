"""From cumulative readings to hourly attributions.

The cumulative energy at each UTC hour boundary is interpolated linearly
between the two readings around it, rounded down to the mWh; an hour's value
is the difference between its two boundaries. Values telescope, so the hours of
a source always add up to the energy at the last closed boundary minus the
first reading, to the mWh. Each boundary is interpolated from the readings
themselves, never from an earlier rounded boundary, so the result does not
depend on how often the step runs or how the readings arrived.
"""

import datetime as dt
from dataclasses import dataclass
from operator import sub

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q

from core.sql import update_by_id
from core.units import carbon_offset_mg, mwh_text
from energy.evidence import (
    boundary_indices,
    evidence_for,
    interpolate,
    report_digests,
    reports_of,
)
from energy.models import GENERATING, Quality, Source
from energy.transitions import attributions_appended

HOUR = 3_600_000_000  # microseconds
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Progress:
    """What a source's hourly attribution has reached (all times in µs since the epoch)."""

    closed_until: int | None = None  # end of the last attributed hour
    closed_energy: int | None = None  # cumulative mWh interpolated there
    readings_from: int | None = None  # the reading just before closed_until


def close_hours(
    readings: list[tuple[int, int]], progress: Progress
) -> tuple[list[tuple[int, int]], Progress]:
    """The hours that ``readings`` close, as (hour start, mWh), and the new progress.

    ``readings`` are (time µs, cumulative mWh) in time order, from
    ``progress.readings_from`` on (all of them for a source not yet started).
    An hour is closed once a reading at or after its end exists.
    """
    if not readings:
        return [], progress
    if progress.closed_until is None:
        first_time, previous = readings[0]
        boundary = first_time - first_time % HOUR + HOUR
    else:
        previous, boundary = progress.closed_energy, progress.closed_until + HOUR
    hours = []
    closed = progress
    t1, e1 = readings[0]
    for t2, e2 in readings[1:]:
        while boundary <= t2:
            # t1 < boundary <= t2; exact integer arithmetic, rounded down.
            energy = interpolate(t1, e1, t2, e2, boundary)
            hours.append((boundary - HOUR, energy - previous))
            previous = energy
            closed = Progress(boundary, energy, t2 if t2 == boundary else t1)
            boundary += HOUR
        t1, e1 = t2, e2
    return hours, closed


def to_micros(value: dt.datetime) -> int:
    return (value - EPOCH) // dt.timedelta(microseconds=1)


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=value)


def _due_sources():
    """Sources whose newest reading closes at least one more hour."""
    return Source.objects.filter(
        Q(hourly_closed_until__isnull=True, last_sample_time__isnull=False)
        | Q(last_sample_time__gte=F("hourly_closed_until") + dt.timedelta(hours=1))
    )


def _readings(sources: list[Source]) -> dict[int, tuple[list[tuple[int, int]], list[int]]]:
    """Per source, the (time µs, cumulative mWh) readings it still needs, in time order,
    and the id of the report that carried each."""
    found: dict[int, tuple[list[tuple[int, int]], list[int]]] = {s.pk: ([], []) for s in sources}
    if connection.vendor == "postgresql":
        # One row per source with its readings as two arrays: a row per reading
        # would cost more in Python than the arithmetic itself.
        with connection.cursor() as cursor:
            cursor.execute(
                """
                SELECT r.source_id,
                       array_agg((EXTRACT(EPOCH FROM r.sample_time) * 1000000)::bigint
                                 ORDER BY r.sample_time),
                       array_agg(r.energy ORDER BY r.sample_time),
                       array_agg(r.report_id ORDER BY r.sample_time)
                FROM unnest(%s::bigint[], %s::timestamptz[]) AS s(id, since)
                JOIN energy_reading r ON r.source_id = s.id
                     AND (s.since IS NULL OR r.sample_time >= s.since)
                GROUP BY r.source_id
                """,
                [[s.pk for s in sources], [s.hourly_from for s in sources]],
            )
            for source_id, times, energies, reports in cursor.fetchall():
                found[source_id] = (list(zip(times, energies, strict=True)), reports)
        return found
    for source in sources:
        readings = source.readings.order_by("sample_time")
        if source.hourly_from is not None:
            readings = readings.filter(sample_time__gte=source.hourly_from)
        rows = readings.values_list("sample_time", "energy", "report_id")
        found[source.pk] = (
            [(to_micros(when), energy) for when, energy, _ in rows],
            [report_id for *_, report_id in rows],
        )
    return found


def attribute_due_hours(*, limit: int = 1000) -> int:
    """Close the due hours of up to ``limit`` sources; returns the attributions made.

    Sources are locked (other workers skip them) in one transaction with the
    attributions, the progress and the daily rows, so a crash leaves either
    all of a batch or none of it.
    """
    with transaction.atomic():
        sources = list(_due_sources().select_for_update(skip_locked=True).order_by("pk")[:limit])
        if not sources:
            return 0
        readings = _readings(sources)
        closed, progress, bounding = [], {}, set()
        for source in sources:
            source_id = source.pk
            samples, report_ids = readings[source_id]
            hours, reached = close_hours(samples, _progress_of(source))
            if not hours:
                continue
            times = [t for t, _ in samples]
            powers = sample_powers(samples, times, source.capacity_wh)
            seq = source.attribution_count
            start = boundary_indices(times, hours[0][0])
            for hour, energy in hours:
                # An hour's end is where the next one starts: one search per boundary.
                end = boundary_indices(times, hour + HOUR)
                reports = reports_of(start, end, report_ids)
                bounding.update(reports)
                # The highest power implied between the samples it is read from.
                peak = max(powers[start[0] : end[-1]], default=0) if powers else 0
                seq += 1
                closed.append((source, source_id, seq, hour, energy, peak, reports))
                start = end
            progress[source_id] = reached
        digests = report_digests(bounding)

        rows = []
        for source, source_id, seq, hour, energy, peak, reports in closed:
            when = from_micros(hour)
            # Consumers report what they drew: their transactions are negative.
            value = -energy if source.type == Source.Type.CONSUMER else energy
            quality = hour_quality(
                energy, source.capacity_wh, generation=source.type in GENERATING, peak_mw=peak
            )
            rows.append(
                (
                    source_id,
                    seq,
                    f"{source_id}-{when:%Y%m%d%H}",
                    when,
                    value,
                    carbon_offset_mg(value, source.emission_factor),
                    *quality,
                    evidence_for(reports, digests),
                )
            )

        if not rows:
            return 0
        attributions_appended(rows)
        _save_progress(progress)
        return len(rows)


def sample_powers(
    samples: list[tuple[int, int]], times: list[int], capacity_w: int | None
) -> list[int] | None:
    """The power (mW) each rise of cumulative energy implies, between each sample and the
    next (mWh over µs, times the µs of an hour, in integers); None when no rise can
    imply more than the source's capacity x the margin, which is what nearly every
    source shows, and then they are not worked out one by one."""
    if capacity_w is None or len(samples) < 2:
        return None
    energies = [e for _, e in samples]
    rises = list(map(sub, energies[1:], energies[:-1]))
    gaps = list(map(sub, times[1:], times[:-1]))
    num, den = settings.PLAUSIBILITY_MARGIN.as_integer_ratio()
    # The largest rise over the shortest gap bounds every pair's power.
    if max(rises) * HOUR * den <= capacity_w * 1000 * num * min(gaps):
        return None
    return [rise * HOUR // gap for rise, gap in zip(rises, gaps, strict=True)]


def hour_quality(
    energy: int, capacity_w: int | None, *, generation: bool, peak_mw: int = 0
) -> tuple[str | None, str]:
    """(quality, reason) of an hour of ``energy`` mWh from a source of ``capacity_w``:
    quarantined when above what the capacity gives in an hour times the margin, when
    its samples imply a power above the capacity times the margin, and for generation
    with no capacity to bound it by."""
    margin = settings.PLAUSIBILITY_MARGIN
    if capacity_w is None:
        if not generation:
            return None, ""  # consumption never enters a REC
        return Quality.QUARANTINED, "the source has no capacity to bound its energy by"
    # Compared in integers: margin = num / den exactly.
    num, den = margin.as_integer_ratio()
    if abs(energy) * den > capacity_w * 1000 * num:
        return Quality.QUARANTINED, (
            f"{mwh_text(energy)} MWh in the hour is more than its capacity of {capacity_w} W "
            f"gives in an hour x {margin}"
        )
    if peak_mw * den > capacity_w * 1000 * num:
        return Quality.QUARANTINED, (
            f"its samples imply {peak_mw // 1000} W, more than its capacity of {capacity_w} W "
            f"x {margin}"
        )
    return None, ""


def _progress_of(source: Source) -> Progress:
    if source.hourly_closed_until is None:
        return Progress()
    return Progress(
        to_micros(source.hourly_closed_until),
        source.hourly_closed_energy,
        to_micros(source.hourly_from),
    )


def _save_progress(progress: dict[int, Progress]) -> None:
    update_by_id(
        "energy_source",
        {
            "hourly_closed_until": "timestamptz",
            "hourly_closed_energy": "bigint",
            "hourly_from": "timestamptz",
        },
        [
            (source_id, from_micros(p.closed_until), p.closed_energy, from_micros(p.readings_from))
            for source_id, p in progress.items()
        ],
    )
