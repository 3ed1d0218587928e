"""The REC rule, as pure integer arithmetic: cut a source's energy into RECs of exactly 1 MWh.

The input is the source's outstanding remainder (``carry``, from the
transaction it was split off) and its Processed generation not yet in a REC,
in (effective_time, id) order. The transaction that crosses a 1 MWh boundary
belongs to the REC it completes, keeping as ``remainder`` what that REC did not
use; a service "remainder" transaction carrying that energy opens the next
REC; a transaction of several MWh spans several RECs through successive
remainder transactions. Energy that does not fill a REC waits: its
transactions stay out of any REC, and a pending remainder stays the carry.
Nothing is created for a REC that is not complete.
"""

from dataclasses import dataclass, field

from core.units import REC_VALUE


@dataclass
class Opener:
    """A remainder transaction opening a REC: ``value`` mWh split off ``split_from``."""

    value: int
    split_from: int  # id of the metered transaction it was split from
    remainder: int = 0  # set when it completes its REC alone and passes energy on


@dataclass
class Cut:
    opener: Opener | None = None
    members: list[tuple[int, int]] = field(default_factory=list)  # (attribution id, remainder)


@dataclass
class Plan:
    recs: list[Cut]
    carry: int
    carry_from: int | None


def cut_recs(carry: int, carry_from: int | None, txs: list[tuple[int, int]]) -> Plan:
    """Cut ``txs`` = [(attribution id, value mWh > 0)] after ``carry`` mWh into whole RECs."""
    recs: list[Cut] = []
    opener = Opener(carry, carry_from) if carry else None
    members: list[tuple[int, int]] = []
    filled = carry
    for tx_id, value in txs:
        if filled + value < REC_VALUE:
            members.append((tx_id, 0))
            filled += value
            continue
        left = value - (REC_VALUE - filled)
        recs.append(Cut(opener, [*members, (tx_id, left)]))
        opener, members, filled = None, [], 0
        while left >= REC_VALUE:  # several MWh in one transaction
            recs.append(Cut(Opener(left, tx_id, remainder=left - REC_VALUE)))
            left -= REC_VALUE
        if left:
            opener, filled = Opener(left, tx_id), left
    return Plan(recs, opener.value if opener else 0, opener.split_from if opener else None)
