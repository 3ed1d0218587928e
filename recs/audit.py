"""What the ledger audit checks of issuance: every REC recomputed from its transactions.

Each REC's spans and opening remainder are read back against the transactions
they cover: a REC holds exactly 1 MWh, the energy a REC passes on is what opens
the source's next one (from the same transaction), the spans of a source never
overlap and cover Processed generation only, and where issuance stands (its
carry) is what the source's last REC left.
"""

import bisect
import itertools
from collections import defaultdict
from collections.abc import Iterator

from django.db import connection
from django.db.models import Count, Exists, F, Max, Min, OuterRef

from core.units import REC_VALUE, mwh_text
from energy.models import Attribution
from recs.models import (
    Account,
    Bundle,
    Issuance,
    Numbering,
    Rec,
    Redemption,
    RedemptionRange,
    Remainder,
    Retirement,
    RetirementRange,
    Span,
    Tokenization,
    TokenizationRange,
    Transfer,
    TransferRange,
)
from recs.selectors import rec_members
from recs.tokens import recs_by_token

CHUNK = 500
LIMIT = 100  # problems named per check: one broken rule tends to break many RECs


def issuance_problems() -> Iterator[str]:
    yield from _limited(_numbering_problems())
    yield from _limited(_rec_problems())
    yield from _limited(_span_problems())
    yield from _limited(_holding_problems())
    yield from _limited(_history_problems())


def _holding_problems() -> Iterator[str]:
    """Every REC issued is in exactly one bundle: each source's bundles, in serial order,
    cover 1..its REC count with no gap and no overlap, and that count is its RECs'."""
    issued = dict(Issuance.objects.values_list("source_id", "rec_count"))
    recs = dict(
        Rec.objects.order_by()
        .values("source_id")
        .annotate(n=Count("pk"))
        .values_list("source_id", "n")
    )
    for source_id in sorted(issued.keys() | recs.keys()):
        if issued.get(source_id, 0) != recs.get(source_id, 0):
            yield (
                f"source {source_id}: {recs.get(source_id, 0)} RECs, but its issuance counts "
                f"{issued.get(source_id, 0)}"
            )
    expected: dict[int, int] = defaultdict(lambda: 1)
    bundles = Bundle.objects.order_by("source_id", "first").values_list(
        "pk", "source_id", "first", "last", "quantity"
    )
    for pk, source_id, first, last, quantity in bundles.iterator(chunk_size=5000):
        if quantity != last - first + 1:
            yield f"bundle {pk}: quantity {quantity}, but it runs {first}..{last}"
        if first != expected[source_id]:
            yield (
                f"source {source_id}: bundle {pk} starts at serial {first}, "
                f"not {expected[source_id]}"
            )
        expected[source_id] = last + 1
    for source_id in sorted(issued.keys() | expected.keys()):
        held = expected.get(source_id, 1) - 1
        if held != issued.get(source_id, 0):
            yield (
                f"source {source_id}: its bundles hold serials up to {held}, "
                f"but {issued.get(source_id, 0)} RECs were issued"
            )


# Who holds a run of serials, in which status: (account, status, pending transfer).
_Place = tuple[int | None, str, int | None]


class _Serials:
    """One source's serials 1..n as runs with their place, for replaying history."""

    def __init__(self, n: int, issuer: int):
        self.starts, self.runs = [1], [(1, n, (issuer, "active", None))]

    def place(self, first: int, last: int, expected: _Place, new: _Place) -> str | None:
        """Move ``first..last`` from ``expected`` to ``new``; what was wrong, if anything.
        An account of None expects any account (tokens on chain are alike, whoever
        tokenized them) and, in ``new``, keeps the account each run had."""
        problem = None
        i = max(bisect.bisect_right(self.starts, first) - 1, 0)
        kept, at = self.runs[:i], first
        for a, b, where in self.runs[i:]:
            if b < first or a > last:
                kept.append((a, b, where))
                continue
            matches = where == expected or (expected[0] is None and where[1:] == expected[1:])
            if not matches and problem is None:
                problem = f"serials {max(a, first)}..{min(b, last)} were {_shown(where)}"
            kept += [(a, first - 1, where)] if a < first else []
            if a <= at:
                moved = new if new[0] is not None else (where[0], *new[1:])
                kept.append((at, min(b, last), moved))
                at = min(b, last) + 1
            kept += [(last + 1, b, where)] if b > last else []
        if at <= last:  # serials past the source's last REC
            problem = problem or f"serials {at}..{last} were never issued"
        self.runs = sorted(kept)
        self.starts = [a for a, _, _ in self.runs]
        return problem

    def merged(self) -> list[tuple[int, int, _Place]]:
        return _merged(self.runs)


def _merged(runs) -> list:
    out: list = []
    for a, b, where in sorted(runs):
        if out and out[-1][2] == where and out[-1][1] + 1 == a:
            out[-1] = (out[-1][0], b, where)
        else:
            out.append((a, b, where))
    return out


def _shown(where: _Place) -> str:
    account, status, transfer = where
    return f"{status} in account {account}" + (f" (transfer {transfer})" if transfer else "")


def _history_problems() -> Iterator[str]:
    """Holdings recomputed from the history: each source's RECs start in its issuer's
    account; completed transfers (when answered) and retirements (when made) move them
    in time order, each from where it must have been; pending transfers hold theirs.
    The bundles must be exactly that."""
    issuers = dict(Account.objects.values_list("customer_id", "pk"))
    sources = {
        source_id: _Serials(n, issuers.get(customer_id, 0))
        for source_id, customer_id, n in Issuance.objects.filter(rec_count__gt=0).values_list(
            "source_id", "source__customer_id", "rec_count"
        )
    }
    events = []
    for r in TransferRange.objects.select_related("transfer").iterator(chunk_size=5000):
        t = r.transfer
        if t.status == Transfer.Status.COMPLETED:
            moves = ((t.sender_id, "active", None), (t.receiver_id, "active", None))
            events.append((t.status_changed, 0, t.pk, r, *moves))
        elif t.status == Transfer.Status.PENDING:
            moves = ((t.sender_id, "active", None), (t.sender_id, "in_transfer", t.pk))
            events.append((t.created, 0, t.pk, r, *moves))
    for r in RetirementRange.objects.select_related("retirement").iterator(chunk_size=5000):
        account = r.retirement.account_id  # None: burnt on chain, from any tokenizer's
        origin = "on_chain" if account is None else "active"
        moves = ((account, origin, None), (account, "retired", None))
        events.append((r.retirement.created, 1, r.retirement_id, r, *moves))
    for r in TokenizationRange.objects.select_related("tokenization").iterator(chunk_size=5000):
        t = r.tokenization
        events.append((t.created, 2, t.pk, r, (t.account_id, "active", None),
                       (t.account_id, "minting", None)))  # fmt: skip
        if t.state in (Tokenization.State.PROCESSED, Tokenization.State.FAILED):
            settled = "on_chain" if t.state == Tokenization.State.PROCESSED else "active"
            events.append((t.state_changed, 2, t.pk, r, (t.account_id, "minting", None),
                           (t.account_id, settled, None)))  # fmt: skip
    for r in RedemptionRange.objects.select_related("redemption").iterator(chunk_size=5000):
        moves = ((None, "on_chain", None), (r.redemption.account_id, "active", None))
        events.append((r.redemption.created, 3, r.redemption_id, r, *moves))
    events.sort(key=lambda event: event[:3])
    names = ["transfer", "retirement", "tokenization", "redemption"]
    for _, kind, pk, r, expected, new in events:
        serials = sources.get(r.source_id)
        problem = (
            serials.place(r.first, r.last, expected, new) if serials else "no RECs were issued"
        )
        if problem:
            yield f"{names[kind]} {pk} moved {r} of source {r.source_id}, but {problem}"
    held = defaultdict(list)
    for b in Bundle.objects.values_list(
        "source_id", "first", "last", "account_id", "status", "transfer_id"
    ).iterator(chunk_size=5000):
        held[b[0]].append((b[1], b[2], tuple(b[3:])))
    for source_id in sorted(sources.keys() | held.keys()):
        expected = sources[source_id].merged() if source_id in sources else []
        actual = _merged(held.get(source_id, []))
        if expected != actual:
            wrong = next((e, a) for e, a in itertools.zip_longest(expected, actual) if e != a)
            yield (
                f"source {source_id}: the history makes serials {_run(wrong[0])}, "
                f"but the bundles hold {_run(wrong[1])}"
            )


def _run(run) -> str:
    return "nothing" if run is None else f"{run[0]}..{run[1]} {_shown(run[2])}"


def _numbering_problems() -> Iterator[str]:
    """Each REC belongs to its source's customer, and a customer's RECs are numbered
    1..n without a gap, n being where its numbering stands."""
    elsewhere = Rec.objects.exclude(customer_id=F("source__customer_id"))
    for pk, customer_id in elsewhere.values_list("pk", "customer_id")[:LIMIT]:
        yield f"REC {pk}: belongs to customer {customer_id}, not to its source's customer"
    counts = dict(Numbering.objects.values_list("customer_id", "rec_count"))
    numbered = Rec.objects.values("customer_id").annotate(
        n=Count("id"), low=Min("seq"), high=Max("seq")
    )
    found = {row["customer_id"]: row for row in numbered}
    for customer_id, count in counts.items():
        if count and customer_id not in found:
            found[customer_id] = {"customer_id": customer_id, "n": 0, "low": None, "high": None}
    for _, row in sorted(found.items()):
        n, expected = row["n"], counts.get(row["customer_id"], 0)
        if (row["low"], row["high"], n) != (1, expected, expected):
            yield (
                f"customer {row['customer_id']}: {n} RECs numbered {row['low']}..{row['high']}, "
                f"but its numbering stands at {expected}"
            )


def _limited(problems: Iterator[str]) -> Iterator[str]:
    for count, problem in enumerate(problems, start=1):
        yield problem
        if count == LIMIT:
            yield f"... and maybe more of the kind (the first {LIMIT} are named)"
            return


def _rec_problems() -> Iterator[str]:
    # The energy each source's previous REC passed on: (from which hash, mWh).
    passed: dict[int, tuple[str | None, int]] = {}
    ids = list(Rec.objects.order_by("source_id", "id").values_list("id", "source_id"))
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rec_ids = [pk for pk, _ in chunk]
        parts = rec_members(rec_ids)
        openers = {
            o.rec_id: o
            for o in Remainder.objects.filter(rec_id__in=rec_ids).select_related("split_from")
        }
        last_span = {}
        for span in Span.objects.filter(rec_id__in=rec_ids).order_by("seq_first"):
            last_span[span.rec_id] = span
        for pk, source_id in chunk:
            held = sum(taken for _, taken in parts.get(pk, []))
            if held != REC_VALUE:
                yield f"REC {pk}: its transactions hold {mwh_text(held)} MWh, not 1 MWh"
            origin, amount = passed.get(source_id, (None, 0))
            opener = openers.get(pk)
            opens = (opener.split_from.hash, opener.value) if opener else (None, 0)
            if opens != (origin, amount):
                got = f"{mwh_text(opener.value)} MWh" if opener else "nothing"
                yield (
                    f"REC {pk}: opens with {got}, but the source's previous REC passed on "
                    f"{mwh_text(amount)} MWh"
                )
            if (span := last_span.get(pk)) is not None:
                passed[source_id] = _passing(parts[pk][-1][0], span.remainder)
            elif opener is not None:
                passed[source_id] = _passing(opener.split_from.hash, opener.remainder)
    for state in Issuance.objects.select_related("carry_from").order_by("source_id"):
        origin, amount = passed.get(state.source_id, (None, 0))
        carried = (state.carry_from.hash if state.carry_from else None, state.carry)
        if state.source_id in passed and carried != (origin, amount):
            yield (
                f"source {state.source_id}: issuance carries {mwh_text(state.carry)} MWh, but "
                f"its last REC passed on {mwh_text(amount)} MWh"
            )


def _passing(origin: str | None, amount: int) -> tuple[str | None, int]:
    """What a REC passes on: ``amount`` mWh of the transaction of hash ``origin``."""
    return (origin if amount else None, amount)


def _span_problems() -> Iterator[str]:
    previous = None
    for span in (
        Span.objects.select_related("rec")
        .order_by("source_id", "seq_first")
        .iterator(chunk_size=2000)
    ):
        if span.rec.source_id != span.source_id:
            yield f"REC {span.rec_id}: a span of source {span.source_id}, not of its own"
        same_source = previous is not None and previous.source_id == span.source_id
        if same_source and span.seq_first <= previous.seq_last:
            yield (
                f"REC {span.rec_id} and REC {previous.rec_id} both hold seq "
                f"{span.seq_first}..{min(span.seq_last, previous.seq_last)} of source "
                f"{span.source_id}"
            )
        previous = span
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT sp.rec_id, a.id FROM {Span._meta.db_table} sp
            JOIN {Attribution._meta.db_table} a ON a.source_id = sp.source_id
                 AND a.seq >= sp.seq_first AND a.seq <= sp.seq_last AND a.value > 0
            WHERE a.state <> 'Processed' OR a.quality IN ('quarantined', 'rejected')
            ORDER BY sp.rec_id, a.id LIMIT {LIMIT}
            """
        )
        for rec_id, attribution_id in cursor.fetchall():
            yield (
                f"REC {rec_id}: holds transaction {attribution_id}, which is not Processed "
                "or not plausible (quarantined or rejected)"
            )


def token_problems() -> Iterator[str]:
    """RECs on chain, against the RecToken contract: for each token id, the RECs the
    ledger holds ``on_chain`` are the contract's total supply at the last block the
    indexer followed (less what mints final after it carried); each burn with a claim
    is a retirement with its statement, each redemption a redemption."""
    from chain import client
    from chain.models import TokenCursor, TokenEvent

    ledger = _on_chain_by_token()
    contract = client.rec_token_contract()
    if contract is None:
        for token, n in sorted(ledger.items()):
            yield f"token {token}: the ledger holds {n} RECs on chain, but no contract is known"
        return
    w3 = client.web3()
    cursor = TokenCursor.objects.filter(
        chain_id=w3.eth.chain_id, contract_address=contract.address
    ).first()
    followed = cursor.last_block if cursor else -1
    later: dict[int, int] = defaultdict(int)  # minted in blocks the indexer has not read
    for tokens in Tokenization.objects.filter(
        state=Tokenization.State.PROCESSED, height__gt=followed
    ).values_list("tokens", flat=True):
        for token, n in tokens:
            later[int(token)] += n
    seen = TokenEvent.objects.filter(chain_id=w3.eth.chain_id).values_list("token_id", flat=True)
    for token in sorted(ledger.keys() | {int(t) for t in seen.distinct()}):
        expected = ledger.get(token, 0) - later.get(token, 0)
        supply = (
            contract.functions.totalSupply(token).call(block_identifier=followed)
            if followed >= 0
            else 0
        )
        if supply != expected:
            yield (
                f"token {token}: the contract's supply at block {followed} is {supply}, but "
                f"the ledger holds {expected} RECs on chain there"
            )
    recorded = {
        TokenEvent.Kind.RETIRED: set(
            Retirement.objects.exclude(tx_hash="").values_list("tx_hash", "log_index")
        ),
        TokenEvent.Kind.REDEEMED: set(Redemption.objects.values_list("tx_hash", "log_index")),
    }
    events = TokenEvent.objects.filter(chain_id=w3.eth.chain_id, kind__in=list(recorded))
    for kind, tx_hash, log_index in events.values_list("kind", "tx_hash", "log_index"):
        if (tx_hash, log_index) not in recorded[kind]:
            what = "retirement with a statement" if kind == "retired" else "redemption"
            yield f"{kind} event {tx_hash}#{log_index}: no {what} in the ledger"


def _on_chain_by_token() -> dict[int, int]:
    """RECs in ``on_chain`` bundles, by token id (source and month of production start)."""
    held = Bundle.objects.filter(
        source_id=OuterRef("source_id"),
        first__lte=OuterRef("serial"),
        last__gte=OuterRef("serial"),
        status=Bundle.Status.ON_CHAIN,
    )
    return recs_by_token(Rec.objects.filter(Exists(held)))
