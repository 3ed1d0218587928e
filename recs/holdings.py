"""Holdings as ranges: what moves RECs between accounts and statuses, a run at a time.

An account's holdings are its bundles (``recs.models.Bundle``): runs of serials of
one source in one status. Issuance, transfers and retirements change them only
through this module, inside a transaction that holds the row locks of the accounts
whose bundles change (``accounts_lock``, always in id order, so two movers never
wait on each other in a circle). Work follows the runs and bundles touched, never
the number of RECs in them.
"""

import bisect
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from core.errors import InsufficientHoldings
from recs.accounts import accounts_of
from recs.models import Account, Bundle

ACTIVE, IN_TRANSFER, RETIRED, MINTING, ON_CHAIN = Bundle.Status


@dataclass(frozen=True, order=True)
class Run:
    """Serials ``first..last`` of one source."""

    source_id: int
    first: int
    last: int

    @property
    def quantity(self) -> int:
        return self.last - self.first + 1


def accounts_lock(account_ids: Iterable[int]) -> None:
    """Lock these accounts' rows, in id order, until the transaction ends: whoever
    changes an account's bundles holds its lock."""
    list(
        Account.objects.select_for_update()
        .filter(pk__in=set(account_ids))
        .order_by("pk")
        .values_list("pk", flat=True)
    )


def runs(serials: Iterable[tuple[int, int]]) -> list[Run]:
    """(source, serial) pairs as runs of consecutive serials, in source and serial order."""
    found: list[Run] = []
    for source_id, serial in sorted(set(serials)):
        last = found[-1] if found else None
        if last and last.source_id == source_id and last.last + 1 == serial:
            found[-1] = Run(source_id, last.first, serial)
        else:
            found.append(Run(source_id, serial, serial))
    return found


# What a vintage rule keeps of a run: its eligible sub-runs, in serial order.
Eligible = Callable[[list[Run]], list[Run]]


def runs_oldest(
    *,
    account: Account,
    quantity: int,
    source_id: int | None = None,
    eligible: Eligible | None = None,
) -> list[Run]:
    """``quantity`` active serials of the account, oldest first (source by source, in id
    order, when no source is named), keeping only what ``eligible`` keeps; raises
    ``InsufficientHoldings`` when it holds fewer."""
    bundles = Bundle.objects.filter(account=account, status=ACTIVE)
    if source_id is not None:
        bundles = bundles.filter(source_id=source_id)
    taken: list[Run] = []
    wanted = quantity
    # A few bundles at a time: a request for 10 RECs reads the first bundles only.
    rows = bundles.order_by("source_id", "first").values_list("source_id", "first", "last")
    for chunk in _chunks(rows.iterator(chunk_size=100), 100):
        candidates = [Run(*row) for row in chunk]
        for run in eligible(candidates) if eligible else candidates:
            if run.quantity >= wanted:
                taken.append(Run(run.source_id, run.first, run.first + wanted - 1))
                return taken
            taken.append(run)
            wanted -= run.quantity
    held = quantity - wanted
    raise InsufficientHoldings(
        f"{quantity} RECs asked, but the account holds {held} eligible active RECs"
        + (f" of source {source_id}" if source_id is not None else "")
    )


def runs_asked(
    *,
    account: Account,
    quantity: int | None = None,
    source_id: int | None = None,
    serials: list[tuple[int, int]] | None = None,
    eligible: Eligible | None = None,
) -> list[Run]:
    """What a transfer or retirement asks of the account's active RECs: ``quantity`` of
    them oldest first, or exactly ``serials``; raises ``InsufficientHoldings`` unless
    it holds them all (and ``eligible`` keeps them all)."""
    if serials is None:
        return runs_oldest(account=account, quantity=quantity, source_id=source_id,
                           eligible=eligible)  # fmt: skip
    wanted = runs(serials)
    runs_held(account=account, wanted=wanted)
    if eligible is not None and (kept := eligible(wanted)) != wanted:
        refused = next(iter(set(_serials(wanted)) - set(_serials(kept))), None)
        raise InsufficientHoldings(f"REC {refused[0]}-{refused[1]} is outside the period claimed")
    return wanted


def _serials(wanted: list[Run]):
    for run in wanted:
        for serial in range(run.first, run.last + 1):
            yield run.source_id, serial


def _chunks(rows, size: int):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def runs_held(*, account: Account, wanted: list[Run]) -> None:
    """Raise ``InsufficientHoldings`` unless the account holds every serial of
    ``wanted`` active."""
    by_source: dict[int, list[Run]] = defaultdict(list)
    for run in wanted:
        by_source[run.source_id].append(run)
    for source_id, asked in by_source.items():
        held = list(
            Bundle.objects.filter(
                account=account,
                status=ACTIVE,
                source_id=source_id,
                last__gte=asked[0].first,
                first__lte=asked[-1].last,
            )
            .order_by("first")
            .values_list("first", "last")
        )
        starts = [first for first, _ in held]
        for run in asked:
            # Bundles of one holder and status are merged when they meet, but a run may
            # still cross from one bundle into the next: walk them.
            at = run.first
            i = bisect.bisect_right(starts, at) - 1
            while at <= run.last and 0 <= i < len(held) and held[i][0] <= at <= held[i][1]:
                at = held[i][1] + 1
                i += 1
            if at <= run.last:
                raise InsufficientHoldings(f"REC {source_id}-{at} is not held active by you")


@dataclass(frozen=True)
class Holder:
    """Whose bundles, in which status: an account's active RECs, those waiting in one of
    its transfers, or those it retired."""

    account_id: int
    status: str
    transfer_id: int | None = None

    def bundles(self):
        return Bundle.objects.filter(
            account_id=self.account_id, status=self.status, transfer_id=self.transfer_id
        )


def runs_move(wanted: list[Run], *, origin: Holder, to: Holder) -> None:
    """Move the runs, held whole by ``origin``, to ``to``: the bundles they lie in are
    cut around them, and they join the bundles of ``to`` they meet. A handful of
    statements however many runs: read the bundles touched, delete them, write what
    replaces them."""
    if not wanted:
        return
    spans = defaultdict(list)
    for run in sorted(wanted):
        spans[run.source_id].append(run)
    around = list(origin.bundles().filter(_any(
        Q(source_id=source_id, last__gte=runs[0].first, first__lte=runs[-1].last)
        for source_id, runs in spans.items()
    )))  # fmt: skip
    pieces, covered = [], 0
    for bundle in around:
        left = [(bundle.first, bundle.last)]
        for run in spans[bundle.source_id]:
            if run.last < bundle.first or run.first > bundle.last:
                continue
            covered += min(bundle.last, run.last) - max(bundle.first, run.first) + 1
            left = [
                part
                for first, last in left
                for part in ((first, min(last, run.first - 1)), (max(first, run.last + 1), last))
                if part[0] <= part[1]
            ]
        pieces += [_bundle(origin, bundle.source_id, first, last) for first, last in left]
    if covered != sum(run.quantity for run in wanted):  # the callers checked: a bug or a race
        raise InsufficientHoldings("the RECs asked are not all held as asked")
    meeting = list(to.bundles().filter(_any(
        Q(source_id=source_id, last__in=[r.first - 1 for r in runs])
        | Q(source_id=source_id, first__in=[r.last + 1 for r in runs])
        for source_id, runs in spans.items()
    )))  # fmt: skip
    joined = _merged([*wanted, *(Run(b.source_id, b.first, b.last) for b in meeting)])
    Bundle.objects.filter(pk__in=[b.pk for b in around + meeting]).delete()
    Bundle.objects.bulk_create(
        pieces + [_bundle(to, run.source_id, run.first, run.last) for run in joined]
    )


def _any(conditions) -> Q:
    found = Q()
    for condition in conditions:
        found |= condition
    return found


def _bundle(holder: Holder, source_id: int, first: int, last: int) -> Bundle:
    return Bundle(
        account_id=holder.account_id, source_id=source_id, status=holder.status,
        transfer_id=holder.transfer_id, first=first, last=last, quantity=last - first + 1,
    )  # fmt: skip


def _merged(found: list[Run]) -> list[Run]:
    """Runs that meet, as one."""
    out: list[Run] = []
    for run in sorted(found):
        if out and out[-1].source_id == run.source_id and out[-1].last + 1 == run.first:
            out[-1] = Run(run.source_id, out[-1].first, run.last)
        else:
            out.append(run)
    return out


def holdings_issued(issued: list[tuple[int, int, int, int]]) -> None:
    """Newly issued serials ``first..last`` of each (source, customer, first, last) go to
    the customer's account, active: the end of its bundle they follow on from, or a new
    bundle. Runs in the issuing transaction, which holds the sources' issuance locks;
    it takes the accounts' locks too, as a transfer may be cutting their bundles."""
    if not issued:
        return
    accounts = accounts_of({customer for _, customer, _, _ in issued})
    accounts_lock(accounts.values())
    follows = {
        (b.source_id, b.account_id, b.last): b
        for b in Bundle.objects.filter(
            source_id__in=[source for source, *_ in issued],
            status=ACTIVE,
            last__in=[first - 1 for *_, first, _ in issued],
        )
    }
    extended, new, now = [], [], timezone.now()
    for source, customer, first, last in issued:
        account = accounts[customer]
        if (bundle := follows.get((source, account, first - 1))) is not None:
            # bulk_update leaves auto_now alone: the time is set here.
            bundle.last, bundle.quantity, bundle.modified = last, last - bundle.first + 1, now
            extended.append(bundle)
        else:
            new.append(
                Bundle(account_id=account, source_id=source, first=first, last=last,
                       quantity=last - first + 1)
            )  # fmt: skip
    Bundle.objects.bulk_update(extended, ["last", "quantity", "modified"])
    Bundle.objects.bulk_create(new)
