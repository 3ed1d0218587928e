"""Django's flush, with the embedded ledger's delete guard lifted for it alone.

Emptying the whole database is the one deletion the ledger allows: Django's tests
flush between transactional tests, and an operator may start an embedded
demo afresh. On SQLite the guard triggers ask ``cg_deletes_allowed()``
(``core.ledger_guard``); PostgreSQL's flush is a TRUNCATE, which fires no row
trigger.
"""

from django.core.management.commands.flush import Command as DjangoFlush

from core.ledger_guard import deletes_allowed


class Command(DjangoFlush):
    help = DjangoFlush.help + " The ledger's delete guard is lifted for this command alone."

    def handle(self, **options):
        with deletes_allowed():
            return super().handle(**options)
