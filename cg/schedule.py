"""The default beat schedule, created once; operators edit it in the admin afterwards."""

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

# (name, task, setting holding its interval in seconds)
PERIODIC_TASKS = [
    ("hourly attributions", "energy.tasks.attribute_hours", "HOURLY_INTERVAL_SECONDS"),
    ("ledger anchoring", "chain.tasks.anchor_ledger", "ANCHOR_INTERVAL_SECONDS"),
    ("REC issuance", "recs.tasks.issue_due_recs", "REC_INTERVAL_SECONDS"),
    ("engine transactions", "chain.tasks.send_transactions", "ANCHOR_INTERVAL_SECONDS"),
    ("token events", "chain.tasks.index_token_events", "ANCHOR_INTERVAL_SECONDS"),
]


def ensure_periodic_tasks(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate receiver: create missing periodic tasks, never touch existing ones."""
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    if PeriodicTask._meta.db_table not in connections[using].introspection.table_names():
        return  # `migrate <app> <migration>` left the beat tables for a later run
    for name, task, setting in PERIODIC_TASKS:
        if PeriodicTask.objects.filter(name=name).exists():
            continue
        every, _ = IntervalSchedule.objects.get_or_create(
            every=getattr(settings, setting), period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.create(name=name, task=task, interval=every)
