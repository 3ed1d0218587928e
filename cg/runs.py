"""Recording the pipeline's task runs (from Celery's task signals, cg.celery)."""

import datetime as dt

from django.utils import timezone

from cg.models import TaskRun

KEPT = dt.timedelta(days=7)
# Runs older than KEPT are deleted every this many runs recorded.
PRUNE_EVERY = 100


def task_run_record(*, task: str, started: dt.datetime, seconds: float, outcome: str,
                    error: str = "") -> TaskRun:  # fmt: skip
    run = TaskRun.objects.create(
        task=task, started=started, seconds=seconds, outcome=outcome, error=error[:500]
    )
    if run.pk % PRUNE_EVERY == 0:
        TaskRun.objects.filter(started__lt=timezone.now() - KEPT).delete()
    return run
