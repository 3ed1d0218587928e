"""The default beat schedule is created by migrate, whatever part of it runs."""

import pytest
from django.db import connection
from django_celery_beat.models import PeriodicTask

from cg.schedule import PERIODIC_TASKS, ensure_periodic_tasks

pytestmark = pytest.mark.django_db


def test_migrate_creates_the_default_schedule_once():
    ensure_periodic_tasks()
    ensure_periodic_tasks()

    names = sorted(PeriodicTask.objects.values_list("name", flat=True))
    assert names == sorted(name for name, _, _ in PERIODIC_TASKS)


@pytest.mark.postgres
def test_migrating_one_app_before_the_beat_tables_exist_does_not_fail():
    # As after `migrate recs 0004` on an empty database: the receiver runs,
    # the beat app's tables are not there yet (renamed away inside the test's
    # transaction, which rolls it back).
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE django_celery_beat_periodictask RENAME TO beat_elsewhere")

    ensure_periodic_tasks()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM beat_elsewhere")
        assert cursor.fetchone()[0] == len(PERIODIC_TASKS)  # what migrate made, untouched
