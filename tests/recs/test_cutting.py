"""The REC rule on numbers alone: exact 1 MWh RECs, remainders carried, nothing lost."""

from hypothesis import given
from hypothesis import strategies as st

from core.units import MWH
from recs.cutting import Opener, cut_recs


def test_energy_below_one_mwh_waits():
    plan = cut_recs(0, None, [(1, MWH // 2), (2, MWH // 3)])

    assert plan.recs == [] and plan.carry == 0


def test_the_crossing_transaction_belongs_to_the_rec_it_completes_with_its_remainder():
    plan = cut_recs(0, None, [(1, 900_000_000), (2, 101_200_000), (3, 5)])

    [rec] = plan.recs
    assert rec.opener is None
    assert rec.members == [(1, 0), (2, 1_200_000)]
    assert (plan.carry, plan.carry_from) == (1_200_000, 2)  # opens the next REC


def test_the_carry_opens_the_next_rec_as_a_remainder_transaction():
    plan = cut_recs(1_200_000, 2, [(3, 998_800_000)])

    [rec] = plan.recs
    assert rec.opener == Opener(1_200_000, 2, 0)
    assert rec.members == [(3, 0)]
    assert plan.carry == 0


def test_an_exact_boundary_leaves_no_remainder():
    plan = cut_recs(0, None, [(1, MWH // 2), (2, MWH // 2), (3, 7)])

    assert [r.members for r in plan.recs] == [[(1, 0), (2, 0)]]
    assert plan.carry == 0


def test_a_transaction_of_several_mwh_spans_several_recs():
    plan = cut_recs(200_000_000, 9, [(1, 3_500_000_000)])

    assert [(r.opener, r.members) for r in plan.recs] == [
        (Opener(200_000_000, 9, 0), [(1, 2_700_000_000)]),
        (Opener(2_700_000_000, 1, 1_700_000_000), []),
        (Opener(1_700_000_000, 1, 700_000_000), []),
    ]
    assert (plan.carry, plan.carry_from) == (700_000_000, 1)


txs = st.lists(
    st.one_of(st.integers(1, 1000), st.integers(1, 2 * MWH), st.integers(1, 7 * MWH)),
    max_size=60,
)


@given(st.integers(0, MWH - 1), txs, st.lists(st.integers(0, 60), max_size=5))
def test_energy_is_conserved_however_issuance_is_split(carry, values, cuts):
    """Generation in RECs x 1 MWh + the carry + what waits = all of it, to the mWh."""
    ids = list(range(1, len(values) + 1))
    value = dict(zip(ids, values, strict=True))
    carry_from = 0 if carry else None
    total_recs, waiting = 0, []
    state = (carry, carry_from)
    stops = sorted({min(c, len(ids)) for c in cuts} | {len(ids)})
    start = 0
    for stop in stops:
        batch = waiting + [(i, value[i]) for i in ids[start:stop]]
        plan = cut_recs(*state, batch)
        linked = {tx for r in plan.recs for tx, _ in r.members}
        waiting = [(i, v) for i, v in batch if i not in linked]
        for rec in plan.recs:
            # Every REC is exactly 1 MWh of what it holds.
            opener = rec.opener.value - rec.opener.remainder if rec.opener else 0
            members = sum(value[tx] - rem for tx, rem in rec.members)
            assert opener + members == MWH
            for tx, rem in rec.members:
                assert 0 <= rem < value[tx]
        total_recs += len(plan.recs)
        state = (plan.carry, plan.carry_from)
        assert 0 <= plan.carry < MWH
        start = stop

    assert carry + sum(values) == total_recs * MWH + state[0] + sum(v for _, v in waiting)
