from django.apps import AppConfig


class CgConfig(AppConfig):
    """The project as an app: its commands (serve, run_pipeline, simulate), the default
    beat schedule, and the record of the pipeline's task runs."""

    name = "cg"
    verbose_name = "cg"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from cg.schedule import ensure_periodic_tasks

        # Seeding the schedule is what post_migrate is for: it runs once the
        # beat tables exist, on every fresh database, tests included (the beat
        # app's post_migrate, after its tables are made).
        beat = apps.get_app_config("django_celery_beat")
        post_migrate.connect(ensure_periodic_tasks, sender=beat)
