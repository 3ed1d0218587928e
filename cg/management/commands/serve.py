import signal
import sys
from io import StringIO

from celery.beat import EmbeddedService
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from cg.celery import app
from chain import anvil
from energy.models import Customer


class Command(BaseCommand):
    help = (
        "Serve the API; in embedded mode also run the beat schedule in this process, "
        "its tasks executed in place, so pushed data is processed with nothing else started."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--port", default="8000")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--demo-days",
            type=int,
            default=0,
            help="on an empty database, first load this many days of demo data (simulate)",
        )

    def handle(self, *args, host: str, port: str, demo_days: int, **options) -> None:
        # SIGTERM would end the process on the spot; as SystemExit it stops the
        # local node below first, so the node writes its chain to disk.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        node = self._local_chain() if settings.EMBEDDED else None
        try:
            if demo_days and not Customer.objects.exists():
                self._demo(demo_days, host, port)
            self._serve(host, port)
        finally:
            if node is not None:
                settings.NODE_URL_FILE.unlink(missing_ok=True)
                anvil.stop(node)

    def _demo(self, days: int, host: str, port: str) -> None:
        out = StringIO()
        self.stdout.write(f"empty database: loading {days} days of demo data (manage.py simulate)")
        call_command("simulate", days=days, stdout=out)
        lines = out.getvalue().strip().splitlines()
        token = lines[-1]
        buyer = next((line.split()[-1] for line in lines if line.startswith("buyer token:")), None)
        statement = next((line.split()[-1] for line in lines if "statement /statements/" in line),
                         None)  # fmt: skip
        self.stdout.write("\n".join(line for line in lines[:-2] if "token" not in line))
        site = f"http://{host}:{port}"
        base = f"{site}/api/v1/energy"
        self.stdout.write(
            "\nTry it (the demo customer's token, shown only now):\n"
            f'  curl -H "Authorization: Bearer {token}" "{base}/sources"\n'
            f'  curl -H "Authorization: Bearer {token}" "{base}/recs?per_page=5"\n'
            f'  curl -H "Authorization: Bearer {token}" '
            f'"{base}/attributions/sunny-hill-array-a?per_page=5"\n'
        )
        if buyer and statement:
            self.stdout.write(
                "The buyer's retirement (its token, shown only now) and public statement:\n"
                f'  curl -H "Authorization: Bearer {buyer}" "{base}/retirements"\n'
                f"  {site}{statement}  (open it in a browser; .json and .pdf too)\n"
            )

    def _local_chain(self):
        """Embedded mode anchors on a local anvil node that keeps its chain under var/.

        Its URL is recorded in ``settings.NODE_URL_FILE`` while it runs, where the
        settings of every other embedded process (run_pipeline, verify_ledger) read
        it: they anchor on this very chain.
        """
        if settings.WEB3_PROVIDER_URI_GIVEN:
            return None
        settings.NODE_URL_FILE.unlink(missing_ok=True)  # a node that is gone
        if not anvil.available():
            self.stderr.write(
                "Node.js or the anvil package is missing (npm ci installs it): anchoring on an "
                "in-process chain, whose anchors will NOT survive a restart and which no other "
                "process can reach."
            )
            settings.WEB3_PROVIDER_URI = settings.IN_PROCESS_CHAIN
            return None
        try:
            node, url = anvil.start(
                settings.ANVIL_PORT, state=settings.VAR_DIR / "anvil-state.json"
            )
        except RuntimeError as error:
            raise CommandError(
                f"could not start anvil on port {settings.ANVIL_PORT} ({error}); "
                "set ANVIL_PORT to a free port"
            ) from None
        settings.WEB3_PROVIDER_URI = url
        settings.NODE_URL_FILE.write_text(url + "\n")
        self.stdout.write(f"anvil running at {url}, its chain kept in var/anvil-state.json")
        return node

    def _serve(self, host: str, port: str) -> None:
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
