from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from chain.audit import ledger_problems
from chain.models import LedgerBlock


class Command(BaseCommand):
    help = (
        "Recompute every leaf hash, root and the block hash chain from the database, check "
        "each anchored root against the contract's events, and name every mismatch."
    )

    def handle(self, *args, **options) -> None:
        # An audit reads: the database refuses any write it would try, and it never
        # signs or sends anything to the chain (chain.audit deploys nothing).
        _read_only(True)
        try:
            self._audit()
        finally:
            _read_only(False)

    def _audit(self) -> None:
        problems = 0
        for problem in ledger_problems():
            problems += 1
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"ledger verification failed: {problems} problem(s)")
        blocks = LedgerBlock.objects.count()
        self.stdout.write(f"ledger verified: {blocks} block(s), every leaf, root and anchor")


def _read_only(on: bool) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            mode = "READ ONLY" if on else "READ WRITE"
            cursor.execute(f"SET SESSION CHARACTERISTICS AS TRANSACTION {mode}")
        else:
            cursor.execute(f"PRAGMA query_only = {'ON' if on else 'OFF'}")
