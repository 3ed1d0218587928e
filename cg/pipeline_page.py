"""The operators' pipeline page (``/admin/pipeline/``): does the pipeline keep up?

Staff only, linked from the admin index. At a glance: each stage's backlog and
lag, the last runs of each scheduled task with their outcome, blocks stuck with
the node and their last error, the quarantine queue, and a chart of the last 7
days (hours attributed, hours anchored, RECs issued per day), drawn server-side
as SVG so the page works offline.
"""

import datetime as dt

from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Q, Sum
from django.db.models.functions import TruncDate
from django.shortcuts import render
from django.utils.safestring import mark_safe

from cg.models import TaskRun
from cg.status import pipeline_status
from core.units import mwh_text

DAYS = 7
# A sent block not confirmed after this long is shown as stuck, as is any with an error.
STUCK_AFTER = dt.timedelta(minutes=10)
SERIES = [
    ("attributed", "hours attributed", "#1565c0"),
    ("anchored", "hours anchored", "#2e7d32"),
    ("recs", "RECs issued", "#ef6c00"),
]


def _lag_text(lag: dt.timedelta | None) -> str:
    if lag is None:
        return "-"
    seconds = int(lag.total_seconds())
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} days"


def week(today: dt.date) -> list[dict]:
    """Per UTC day of the last ``DAYS``: hours attributed (their production day), hours
    anchored (their block confirmed that day), RECs issued (sealed that day)."""
    from chain.models import LedgerBlock
    from energy.models import DailyAggregate

    first = today - dt.timedelta(days=DAYS - 1)
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    attributed = dict(
        DailyAggregate.objects.filter(day__gte=first).order_by().values("day")
        .annotate(n=Sum("number")).values_list("day", "n")
    )  # fmt: skip

    def per_day(rows, field: str) -> dict:
        return dict(
            rows.filter(**{f"{field}__gte": start}).annotate(on=TruncDate(field, tzinfo=dt.UTC))
            .order_by().values("on").annotate(n=Sum("count")).values_list("on", "n")
        )  # fmt: skip

    blocks = LedgerBlock.objects
    anchored = per_day(blocks.filter(kind="attributions", status="confirmed"), "confirmed_at")
    recs = per_day(blocks.filter(kind="recs"), "sealed_at")
    days = [first + dt.timedelta(days=i) for i in range(DAYS)]
    return [
        {"day": day, "attributed": attributed.get(day, 0), "anchored": anchored.get(day, 0),
         "recs": recs.get(day, 0)}
        for day in days
    ]  # fmt: skip


def week_svg(rows: list[dict]) -> str:
    """Grouped bars, one group a day; each bar carries its series, day and value."""
    width, height, top = 700, 180, max([1] + [row[key] for row in rows for key, *_ in SERIES])
    group = width / len(rows)
    bar = group / (len(SERIES) + 1)
    parts = []
    for i, row in enumerate(rows):
        for j, (key, _, colour) in enumerate(SERIES):
            h = row[key] / top * height
            x = i * group + (j + 0.5) * bar
            parts.append(
                f'<rect class="bar" data-series="{key}" data-day="{row["day"]:%Y-%m-%d}" '
                f'data-value="{row[key]}" x="{x:.1f}" y="{height - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{row[key]}</title></rect>'
            )
        parts.append(
            f'<text x="{i * group + group / 2:.1f}" y="{height + 16}" text-anchor="middle">'
            f"{row['day']:%b %d}</text>"
        )
    return mark_safe(
        f'<svg class="week" viewBox="-10 -10 {width + 20} {height + 30}" role="img" '
        f'aria-label="the last {len(rows)} days">{"".join(parts)}'
        f'<line x1="0" y1="{height}" x2="{width}" y2="{height}" stroke="#999"/></svg>'
    )


def latest_runs(per_task: int = 5) -> list[dict]:
    """Each scheduled task (and any other that ran) with its last runs, newest first."""
    from django_celery_beat.models import PeriodicTask

    scheduled = {t.task: t for t in PeriodicTask.objects.select_related("interval")}
    names = sorted(set(scheduled) | set(TaskRun.objects.values_list("task", flat=True).distinct()))
    found = []
    for name in names:
        periodic = scheduled.get(name)
        found.append({
            "task": name,
            "every": str(periodic.interval) if periodic and periodic.interval else "-",
            "enabled": periodic.enabled if periodic else None,
            "runs": list(TaskRun.objects.filter(task=name).order_by("-started")[:per_task]),
        })  # fmt: skip
    return found


@staff_member_required
def pipeline_page(request):
    from chain.models import LedgerBlock
    from energy.models import Attribution, Quality

    status = pipeline_status()
    rows = week(status.now.date())
    stuck = (
        LedgerBlock.objects.exclude(status=LedgerBlock.Status.CONFIRMED)
        .filter(~Q(last_error="") | Q(status="sent", sent_at__lt=status.now - STUCK_AFTER))
        .order_by("ledger_height")[:50]
    )
    quarantine = [
        (row, mwh_text(row.value))
        for row in Attribution.objects.filter(quality=Quality.QUARANTINED)
        .select_related("source")
        .order_by("effective_time", "id")[:50]
    ]
    context = {
        **admin.site.each_context(request),
        "title": "Pipeline",
        "status": status,
        "stages": [(stage, _lag_text(stage.lag(status.now))) for stage in status.stages],
        "tasks": latest_runs(),
        "stuck": stuck,
        "quarantine": quarantine,
        "week": rows,
        "series": SERIES,
        "chart": week_svg(rows),
    }
    return render(request, "cg/pipeline.html", context)
