"""Energy quantities: integer milliwatt-hours inside, MWh decimals at the edge."""

MWH = 10**9  # milliwatt-hours in one megawatt-hour
REC_VALUE = MWH  # one REC certifies exactly 1 MWh

# Carbon offsets are stored as integer milligrams of CO2; 1 t = 10**9 mg, so
# the same decimal shift turns them into tonnes at the edge.
TONNE = 10**9


def decimal_text(value: int, scale: int) -> str:
    """The exact decimal text of ``value / 10**scale``.

    At least one fractional digit and no trailing zeros beyond it, so 10**9 mWh
    reads ``1.0`` and 12312000 mWh reads ``0.012312``: what a float would print
    for short values, but exact for every integer.
    """
    sign = "-" if value < 0 else ""
    whole, fraction = divmod(abs(value), 10**scale)
    digits = str(fraction).rjust(scale, "0").rstrip("0") or "0"
    return f"{sign}{whole}.{digits}"


def mwh_text(mwh_milli: int) -> str:
    return decimal_text(mwh_milli, 9)


def carbon_offset_mg(value_mwh_milli: int, factor_t_per_mwh) -> int | None:
    """mg CO2 avoided by ``value`` mWh at ``factor`` tCO2/MWh (= mg/mWh).

    The factor has six decimals, so the product is exact in millionths of a mg;
    it is rounded half away from zero to the mg.
    """
    if factor_t_per_mwh is None:
        return None
    micro = int(factor_t_per_mwh.scaleb(6))
    quotient, rest = divmod(abs(value_mwh_milli) * micro, 10**6)
    if 2 * rest >= 10**6:
        quotient += 1
    return -quotient if value_mwh_milli < 0 else quotient
