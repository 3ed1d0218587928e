from celery.beat import EmbeddedService
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cg.celery import app


class Command(BaseCommand):
    help = (
        "Serve the API; in embedded mode also run the beat schedule in this process, "
        "its tasks executed in place, so pushed data is processed with nothing else started."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", default="8000")
        parser.add_argument("--host", default="127.0.0.1")

    def handle(self, *args, host: str, port: str, **options) -> None:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            # Register the tasks here, as a worker would: beat runs a registered
            # task in place (eager); an unknown one it could only send to a broker.
            app.loader.import_default_modules()
            beat = EmbeddedService(
                app, thread=True, scheduler_cls=settings.CELERY_BEAT_SCHEDULER, max_interval=5
            )
            beat.start()
            self.stdout.write("beat schedule running in this process (tasks run in place)")
        else:
            self.stdout.write("tasks go to the Celery broker: run a worker and beat beside this")
        call_command("runserver", f"{host}:{port}", use_reloader=False, use_threading=True)
