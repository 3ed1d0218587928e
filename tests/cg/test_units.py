from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.units import carbon_offset_mg, decimal_text, mwh_text


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_mwh_text_is_the_exact_decimal_of_the_integer(milli):
    text = mwh_text(milli)

    assert Decimal(text) == Decimal(milli).scaleb(-9)
    assert "." in text and "e" not in text.lower()
    assert text.endswith(".0") or not text.endswith("0")


@pytest.mark.parametrize(
    ("milli", "text"),
    [
        (0, "0.0"),
        (10**9, "1.0"),
        (12_312_000, "0.012312"),
        (-29_167, "-0.000029167"),
        (19_000_436_789, "19.000436789"),
        (1, "0.000000001"),
    ],
)
def test_mwh_text_examples(milli, text):
    assert mwh_text(milli) == text


def test_decimal_text_takes_any_scale():
    assert decimal_text(12345, 3) == "12.345"


@pytest.mark.parametrize(
    ("value", "factor", "mg"),
    [
        (12_290_000, "0.907812", 11_157_009),  # 11157009.48 mg
        (1, "0.5", 1),  # half away from zero
        (-1, "0.5", -1),
        (3, "0.166666", 0),  # 0.499998
        (10, "0", 0),
        (5, None, None),
    ],
)
def test_carbon_offset_rounds_to_the_mg(value, factor, mg):
    assert carbon_offset_mg(value, Decimal(factor) if factor else None) == mg
