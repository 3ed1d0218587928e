"""Which signed reports an hour's energy was read from, and the hash that commits to them.

An hour's value is the cumulative energy at its end minus that at its start
(``energy.hourly``). Each end is read from the samples around it: the sample
on the boundary if one falls exactly there, else the last sample before it and
the first at or after it, between which it is interpolated. The start of a
source's very first hour is its first sample itself. The reports carrying these
samples are the hour's evidence: the attribution's ``evidence`` is keccak-256
over their digests (the hashes the device signed), in time order, and its leaf
commits to it, so a proof of the hour leads back to the device's signature.

The hourly step computes it from the readings it closes hours with
(``hour_reports``); the /evidence endpoint finds the same samples again from
the stored readings (``evidence_of``), which never change once written.
"""

import datetime as dt
from bisect import bisect_left
from dataclasses import dataclass

from django.db import connection

from chain.hashing import evidence_hash
from energy.ingestion import pogg_signer_of_text
from energy.models import Attribution, Reading, Report

HOUR = dt.timedelta(hours=1)


def interpolate(t1, e1: int, t2, e2: int, at) -> int:
    """The cumulative mWh at ``at`` (t1 < at <= t2) between two samples, rounded down:
    how every hour boundary is read. Times are µs integers or datetimes; either way
    the arithmetic is exact (a timedelta divides by a timedelta in whole µs)."""
    return e1 + (e2 - e1) * (at - t1) // (t2 - t1)


def boundary_indices(times: list, boundary) -> list[int]:
    """Indices of the samples (of ``times``, ascending) the cumulative energy at
    ``boundary`` is read from: the one exactly there, else the pair around it; the
    first sample alone when none precedes the boundary (a source's first hour)."""
    j = bisect_left(times, boundary)
    if j == 0 or (j < len(times) and times[j] == boundary):
        return [j]
    return [j - 1, j]


def reports_of(start: list[int], end: list[int], report_ids: list[int]) -> list[int]:
    """The ids of the reports carrying the samples of an hour's ``start`` and ``end``
    (``boundary_indices``), in time order, each once."""
    return list(dict.fromkeys([report_ids[i] for i in start + end]))


def hour_reports(times: list[int], report_ids: list[int], start: int, end: int) -> list[int]:
    """The ids of the reports bounding the hour ``start``..``end``, in time order."""
    return reports_of(boundary_indices(times, start), boundary_indices(times, end), report_ids)


def evidence_for(reports: list[int], digests: dict[int, bytes | None]) -> bytes | None:
    """The evidence hash over these reports, or None if any of them was not signed."""
    found = [digests.get(pk) for pk in reports]
    if not found or None in found:
        return None
    return evidence_hash(found)


def report_digests(ids: set[int]) -> dict[int, bytes | None]:
    """The digest of each of these reports (None for an unsigned one)."""
    if connection.vendor == "postgresql":
        # One array parameter: thousands of ids in one round trip, no per-row converters.
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT id, digest FROM energy_report WHERE id = ANY(%s::bigint[])", [list(ids)]
            )
            return dict(cursor.fetchall())
    digests: dict[int, bytes | None] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 500):  # SQLite's bound on one IN list
        rows = Report.objects.filter(pk__in=ordered[i : i + 500]).values_list("pk", "digest")
        digests |= {pk: bytes(d) if d is not None else None for pk, d in rows}
    return digests


@dataclass(frozen=True)
class Boundary:
    """Where an end of the hour was read: ``at`` (the boundary, or a first sample's
    time) from ``samples`` (one, or the pair around it)."""

    at: dt.datetime
    samples: list[Reading]


@dataclass(frozen=True)
class Evidence:
    start: Boundary
    end: Boundary
    reports: list[Report]  # in time order: the order the evidence hash covers

    def energy(self, boundary: Boundary) -> int:
        """The cumulative mWh at the boundary, interpolated as the hourly step does."""
        first = boundary.samples[0]
        if len(boundary.samples) == 1:
            return first.energy
        second = boundary.samples[1]
        return interpolate(
            first.sample_time, first.energy, second.sample_time, second.energy, boundary.at
        )


def _boundary(source_id: int, at: dt.datetime) -> Boundary | None:
    readings = Reading.objects.filter(source_id=source_id).select_related("report")
    after = readings.filter(sample_time__gte=at).order_by("sample_time").first()
    if after is None:
        return None
    if after.sample_time == at:
        return Boundary(at, [after])
    before = readings.filter(sample_time__lt=at).order_by("-sample_time").first()
    if before is None:  # the source's first hour starts at its first sample
        return Boundary(after.sample_time, [after])
    return Boundary(at, [before, after])


def evidence_of(attribution: Attribution) -> Evidence | None:
    """The samples and reports the attribution was read from, or None when it was
    not read from stored readings (or they no longer bound it)."""
    start = _boundary(attribution.source_id, attribution.effective_time)
    end = _boundary(attribution.source_id, attribution.effective_time + HOUR)
    if start is None or end is None:
        return None
    readings = sorted({*start.samples, *end.samples}, key=lambda r: r.sample_time)
    return Evidence(start, end, list(dict.fromkeys(r.report for r in readings)))


def signer_of(report: Report) -> str | None:
    """The lower-case address the report's stored text was signed by, or None."""
    if not report.signed or not report.signature:
        return None
    return pogg_signer_of_text(report.signed, report.signature)
