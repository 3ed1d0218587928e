"""Retirements: RECs claimed, forever, for a beneficiary's consumption in a period.

A retirement takes RECs the account holds active, oldest first or by serial, under
the vintage rule: only RECs whose whole production lies inside the period claimed
(``[period_start, period_end + 1 day)``, UTC) are eligible. Its bundles become
``retired`` and never move again; the retirement is history, whose hash is sealed
and anchored like a REC's (``recs.ledger.RetirementLeaves``), and whose public
statement anyone can check against the chain.
"""

import datetime as dt
import secrets

from django.db import connection, transaction

from energy.models import Customer
from recs.accounts import account_open
from recs.holdings import (
    ACTIVE,
    RETIRED,
    Eligible,
    Holder,
    Run,
    accounts_lock,
    runs_asked,
    runs_move,
)
from recs.models import Rec, Retirement, RetirementRange


def retirement_create(
    *,
    customer: Customer,
    beneficiary: str,
    country: str,
    period_start: dt.date,
    period_end: dt.date,
    purpose: str = "",
    quantity: int | None = None,
    source_id: int | None = None,
    serials: list[tuple[int, int]] | None = None,
) -> Retirement:
    """Retire ``quantity`` eligible active RECs (oldest first, of ``source_id`` if given)
    or exactly these (source, serial); raises ``InsufficientHoldings``, changing
    nothing, unless the account holds them all active and eligible."""
    account = account_open(customer=customer)
    with transaction.atomic():
        accounts_lock([account.pk])
        runs = runs_asked(
            account=account,
            quantity=quantity,
            source_id=source_id,
            serials=serials,
            eligible=vintage(period_start, period_end),
        )
        created = Retirement.objects.create(
            account=account,
            statement=secrets.token_urlsafe(16),
            quantity=sum(run.quantity for run in runs),
            beneficiary=beneficiary,
            purpose=purpose,
            country=country,
            period_start=period_start,
            period_end=period_end,
        )
        RetirementRange.objects.bulk_create(
            RetirementRange(retirement=created, source_id=run.source_id, first=run.first,
                            last=run.last, quantity=run.quantity)
            for run in runs
        )  # fmt: skip
        runs_move(runs, origin=Holder(account.pk, ACTIVE), to=Holder(account.pk, RETIRED))
    return created


def vintage(period_start: dt.date, period_end: dt.date) -> Eligible:
    """What of some runs of serials was produced inside the period: their RECs whose
    first and last hour lie in ``[period_start, period_end + 1 day)``, as runs."""
    start = dt.datetime.combine(period_start, dt.time(), dt.UTC)
    end = dt.datetime.combine(period_end + dt.timedelta(days=1), dt.time(), dt.UTC)

    def eligible(candidates: list[Run]) -> list[Run]:
        if not candidates:
            return []
        within = " OR ".join(["(source_id = %s AND serial BETWEEN %s AND %s)"] * len(candidates))
        params = [value for run in candidates for value in (run.source_id, run.first, run.last)]
        # Gaps and islands: consecutive eligible serials share serial - row_number(), so
        # the database hands back runs, not one row per REC.
        with connection.cursor() as cursor:
            cursor.execute(
                f"""
                SELECT source_id, min(serial), max(serial) FROM (
                    SELECT source_id, serial,
                           serial - row_number() OVER (PARTITION BY source_id ORDER BY serial)
                               AS island
                    FROM {Rec._meta.db_table}
                    WHERE ({within}) AND production_start >= %s AND production_end < %s
                ) AS eligible
                GROUP BY source_id, island
                ORDER BY source_id, min(serial)
                """,
                [*params, *map(connection.ops.adapt_datetimefield_value, (start, end))],
            )
            return [Run(*row) for row in cursor.fetchall()]

    return eligible
