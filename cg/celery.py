import logging
import os
import time
from datetime import UTC, datetime

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cg.settings")

log = logging.getLogger(__name__)

app = Celery("cg")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# When each running task started, by task id: its duration is a metric per stage.
_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs) -> None:
    _started[task_id] = (time.perf_counter(), datetime.now(UTC))


@signals.task_postrun.connect
def _task_done(task_id=None, task=None, state=None, retval=None, **kwargs) -> None:
    """Each run's duration (a metric per stage) and outcome (the pipeline page)."""
    from cg.metrics import TASK_SECONDS
    from cg.runs import task_run_record

    if (started := _started.pop(task_id, None)) is None:
        return
    seconds = time.perf_counter() - started[0]
    TASK_SECONDS.labels(task.name).observe(seconds)
    outcome = {"SUCCESS": "success", "RETRY": "retry"}.get(state, "failure")
    error = "" if outcome == "success" else f"{type(retval).__name__}: {retval}"
    try:
        task_run_record(task=task.name, started=started[1], seconds=seconds, outcome=outcome,
                        error=error)  # fmt: skip
    except Exception:  # the record is for the operators: a task never fails for it
        log.exception("could not record the run of %s", task.name)
