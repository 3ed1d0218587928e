"""Container healthchecks: ``python -m cg.probe web|beat`` exits 0 when the process is well.

- ``web``: ``/healthz`` of the gunicorn on ``127.0.0.1:$PORT`` (8000) answers 200.
- ``beat``: the scheduler keeps time: every enabled periodic task ran within three
  of its intervals (plus a minute's grace for a slow first run). Beat has no port to
  ask; what it writes to the database is what shows it alive.

The worker's check is Celery's own: ``celery -A cg inspect ping`` (docker/compose.yaml).
"""

import os
import sys
import urllib.request


def web() -> str | None:
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return None if response.status == 200 else f"{url} answered {response.status}"
    except OSError as error:
        return f"{url}: {error}"


def beat() -> str | None:
    import datetime as dt

    import django

    django.setup()
    from django.utils import timezone
    from django_celery_beat.models import PeriodicTask

    now = timezone.now()
    for task in PeriodicTask.objects.filter(enabled=True, interval__isnull=False).select_related(
        "interval"
    ):
        every = dt.timedelta(**{task.interval.period: task.interval.every})
        since = task.last_run_at or task.date_changed
        if now - since > 3 * every + dt.timedelta(minutes=1):
            return f"{task.name} last ran {since:%Y-%m-%d %H:%M:%S} UTC, every {every}"
    return None


def main(argv: list[str]) -> int:
    checks = {"web": web, "beat": beat}
    if len(argv) != 1 or argv[0] not in checks:
        print(f"usage: python -m cg.probe {'|'.join(checks)}", file=sys.stderr)
        return 2
    problem = checks[argv[0]]()
    if problem:
        print(problem, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
