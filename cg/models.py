"""The project's own table: what the pipeline's tasks did, for the operators' page."""

from django.db import models


class TaskRun(models.Model):
    """One run of a Celery task of the pipeline: when, how long, how it ended. Kept a
    week (``cg.runs.task_run_record`` prunes older ones)."""

    class Outcome(models.TextChoices):
        SUCCESS = "success"
        FAILURE = "failure"
        RETRY = "retry"

    task = models.CharField(max_length=200)
    started = models.DateTimeField()
    seconds = models.FloatField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    error = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [
            # Serves the pipeline page: each task's latest runs; and the pruning by age.
            models.Index(fields=["task", "-started"], name="cg_taskrun_latest"),
            models.Index(fields=["started"], name="cg_taskrun_started"),
        ]

    def __str__(self) -> str:
        return f"{self.task} at {self.started:%Y-%m-%d %H:%M:%S}: {self.outcome}"
