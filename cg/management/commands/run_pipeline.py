from django.core.management.base import BaseCommand

from cg.pipeline import run_until_idle


class Command(BaseCommand):
    help = "Run every pipeline step once, synchronously, until nothing is left to do."

    def handle(self, *args, **options) -> None:
        def progress(name: str, done: int) -> None:
            self.stdout.write(f"{name}: {done}")

        totals = run_until_idle(progress)
        summary = ", ".join(f"{name} {count}" for name, count in totals.items())
        self.stdout.write(f"pipeline idle ({summary})")
