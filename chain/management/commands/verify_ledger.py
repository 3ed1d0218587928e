from django.core.management.base import BaseCommand, CommandError

from chain.audit import ledger_problems
from chain.models import LedgerBlock


class Command(BaseCommand):
    help = (
        "Recompute every leaf hash, root and the block hash chain from the database, check "
        "each anchored root against the contract's events, and name every mismatch."
    )

    def handle(self, *args, **options) -> None:
        problems = 0
        for problem in ledger_problems():
            problems += 1
            self.stdout.write(problem)
        if problems:
            raise CommandError(f"ledger verification failed: {problems} problem(s)")
        blocks = LedgerBlock.objects.count()
        self.stdout.write(f"ledger verified: {blocks} block(s), every leaf, root and anchor")
