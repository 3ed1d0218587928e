from django.apps import AppConfig


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from cg.schedule import ensure_periodic_tasks

        # Seeding the schedule is what post_migrate is for: it runs once the
        # beat tables exist, on every fresh database, tests included.
        post_migrate.connect(ensure_periodic_tasks, sender=self)
