import os
import time

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cg.settings")

app = Celery("cg")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# When each running task started, by task id: its duration is a metric per stage.
_started: dict[str, float] = {}


@signals.task_prerun.connect
def _task_started(task_id=None, task=None, **kwargs) -> None:
    _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_done(task_id=None, task=None, **kwargs) -> None:
    from cg.metrics import TASK_SECONDS

    if (started := _started.pop(task_id, None)) is not None:
        TASK_SECONDS.labels(task.name).observe(time.perf_counter() - started)
