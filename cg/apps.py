from django.apps import AppConfig


class CgConfig(AppConfig):
    """The project as an app: its commands (serve, run_pipeline, simulate) and the
    default beat schedule."""

    name = "cg"
    verbose_name = "cg"

    def ready(self) -> None:
        from django.apps import apps
        from django.db.models.signals import post_migrate

        from cg.schedule import ensure_periodic_tasks

        # Seeding the schedule is what post_migrate is for: it runs once the
        # beat tables exist, on every fresh database, tests included. (cg has no
        # models, so no post_migrate of its own: the beat app's is the one.)
        beat = apps.get_app_config("django_celery_beat")
        post_migrate.connect(ensure_periodic_tasks, sender=beat)
