from celery import shared_task

from energy.hourly import attribute_due_hours


@shared_task(acks_late=True)
def attribute_hours() -> int:
    """Close every due hour; workers running it at once split the sources."""
    total = 0
    while done := attribute_due_hours():
        total += done
    return total
