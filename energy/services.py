"""Writes to customers, tokens, sources and the attribution ledger."""

import datetime as dt
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from energy.auth import token_digest
from energy.models import ApiToken, Attribution, Customer, Source, State
from energy.units import carbon_offset_mg

ADDRESS_FORMAT = re.compile(r"0x[0-9a-fA-F]{40}")


def token_create(*, customer: Customer, label: str = "") -> tuple[ApiToken, str]:
    """A new bearer token for ``customer``; the plain token is returned only here."""
    plain = "0x" + secrets.token_hex(32)
    token = ApiToken.objects.create(
        customer=customer, digest=token_digest(plain), prefix=plain[:10], label=label
    )
    return token, plain


def token_revoke(*, token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked__isnull=True).update(revoked=timezone.now())


def customer_create(*, name: str) -> tuple[Customer, str]:
    name = name.strip()
    if not name:
        raise ValidationError("customer name must not be empty")
    with transaction.atomic():
        if Customer.objects.filter(name=name).exists():
            raise ValidationError(f"customer {name!r} already exists")
        customer = Customer.objects.create(name=name)
        _, plain = token_create(customer=customer, label="created with the customer")
    return customer, plain


def _choice(field: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValidationError(f"{field} must be one of {', '.join(choices)}, not {value!r}")
    return value


def source_clean(
    *,
    customer: Customer,
    external_id: str,
    name: str,
    type: str = Source.Type.SOLAR,
    node_type: str = Source.NodeType.METER,
    parent: Source | None = None,
    capacity_wh: int | None = None,
    location: str = "",
    miner_address: str | None = None,
    emission_factor: Decimal | str | None = None,
) -> dict:
    """Checked, normalised fields of a new source; raises ValidationError."""
    external_id = external_id.strip()
    if not external_id or len(external_id) > 128:
        raise ValidationError("external id must be 1 to 128 characters")
    if not name.strip():
        raise ValidationError("name must not be empty")
    _choice("type", type, Source.Type.values)
    _choice("node type", node_type, Source.NodeType.values)
    if parent is not None and parent.customer_id != customer.pk:
        raise ValidationError("the parent must belong to the same customer")
    if capacity_wh is not None and capacity_wh <= 0:
        raise ValidationError("capacity must be a positive number of Wh")
    if miner_address is not None:
        if not ADDRESS_FORMAT.fullmatch(miner_address):
            raise ValidationError(
                f"miner address must be 0x followed by 40 hex digits, not {miner_address!r}"
            )
        miner_address = miner_address.lower()
        if Source.objects.filter(miner_address=miner_address).exists():
            raise ValidationError(f"miner address {miner_address} is already onboarded")
    if emission_factor is not None:
        emission_factor = _emission_factor(emission_factor)
    if Source.objects.filter(customer=customer, external_id=external_id).exists():
        raise ValidationError(f"source {external_id!r} already exists for {customer.name}")
    return {
        "customer": customer,
        "external_id": external_id,
        "name": name.strip(),
        "type": type,
        "node_type": node_type,
        "parent": parent,
        "capacity_wh": capacity_wh,
        "location": location,
        "miner_address": miner_address,
        "emission_factor": emission_factor,
    }


def _emission_factor(value: Decimal | str) -> Decimal:
    try:
        factor = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(f"emission factor {value!r} is not a number") from None
    if not factor.is_finite() or factor < 0:
        raise ValidationError("emission factor must be a non-negative number of tCO2/MWh")
    if factor != factor.quantize(Decimal("0.000001")) or factor >= 1000:
        raise ValidationError("emission factor takes at most 3 digits and 6 decimals")
    return factor


def source_create(**fields) -> Source:
    """A new source with a fresh client id; takes the arguments of ``source_clean``."""
    cleaned = source_clean(**fields)
    try:
        with transaction.atomic():
            return Source.objects.create(client_id="0x" + secrets.token_hex(32), **cleaned)
    except IntegrityError:
        # Lost a race with a concurrent create of the same external id or address.
        raise ValidationError("a source with this external id or miner address exists") from None


@dataclass(frozen=True)
class NewAttribution:
    external_id: str
    effective_time: dt.datetime  # start of a UTC hour
    value: int  # mWh


def attributions_append(*, source: Source, rows: Sequence[NewAttribution]) -> list[Attribution]:
    """Append metered attributions, in time order, after the source's newest one.

    Appending only at the end keeps ``seq`` dense and in time order, which is
    what lets the API turn any page into a range lookup.
    """
    if not rows:
        return []
    with transaction.atomic():
        locked = Source.objects.select_for_update().get(pk=source.pk)
        last = (
            Attribution.objects.filter(source=locked, seq=locked.attribution_count)
            .values_list("effective_time", flat=True)
            .first()
        )
        for row in rows:
            when = row.effective_time
            if when.tzinfo is None or when.utcoffset() != dt.timedelta(0):
                raise ValidationError(f"{row.external_id}: effective time must be in UTC")
            if when.minute or when.second or when.microsecond:
                raise ValidationError(f"{row.external_id}: effective time must start an hour")
            if last is not None and when <= last:
                raise ValidationError(
                    f"{row.external_id}: {when:%Y-%m-%dT%H:%MZ} is not after the newest "
                    f"attribution of the source ({last:%Y-%m-%dT%H:%MZ})"
                )
            last = when
        factor = locked.emission_factor
        attributions_insert(
            (
                locked.pk,
                locked.attribution_count + index,
                row.external_id,
                row.effective_time,
                row.value,
                carbon_offset_mg(row.value, factor),
            )
            for index, row in enumerate(rows, start=1)
        )
        daily_refresh(source_id=locked.pk, since=rows[0].effective_time.date())
        return list(
            Attribution.objects.filter(source=locked, seq__gt=locked.attribution_count).order_by(
                "seq"
            )
        )


ATTRIBUTION_COLUMNS = (
    "source_id, kind, seq, external_id, effective_time, value, state, carbon_offset,"
    " remainder, created, modified"
)


def attributions_insert(rows: Iterable[tuple]) -> None:
    """Write new metered attributions straight to the table, COPY on PostgreSQL.

    Rows are (source_id, seq, external_id, effective_time, value, carbon_offset);
    the caller holds the source locks, numbers them after the source's
    ``attribution_count`` and calls ``daily_refresh_many`` afterwards.
    """
    adapt = connection.ops.adapt_datetimefield_value
    now = adapt(timezone.now())
    full = (
        (sid, "metered", seq, ext, adapt(when), value, State.NEW, co, 0, now, now)
        for sid, seq, ext, when, value, co in rows
    )
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY energy_attribution ({ATTRIBUTION_COLUMNS}) FROM STDIN") as copy:
                for row in full:
                    copy.write_row(row)
        else:
            cursor.executemany(
                f"INSERT INTO energy_attribution ({ATTRIBUTION_COLUMNS})"
                f" VALUES ({', '.join(['%s'] * 11)})",
                list(full),
            )


def daily_refresh(*, source_id: int, since: dt.date) -> None:
    daily_refresh_many({source_id: since})


def daily_refresh_many(since_by_source: dict[int, dt.date]) -> None:
    """Rewrite the daily rows of each source from its day on, and move its counters.

    Every service that appends attributions or changes their state or REC calls
    this with the earliest day it touched, inside its own transaction. Only the
    days from ``since`` on are re-aggregated, so the cost follows the change,
    not the history, and a handful of statements serve any number of sources.
    Counters first lose what the old rows of those days held, then gain what
    the new rows hold; each UPDATE keeps the counter partition CHECK true.
    """
    items = sorted(since_by_source.items())
    with transaction.atomic():
        for start in range(0, len(items), _REFRESH_CHUNK):
            chunk = items[start : start + _REFRESH_CHUNK]
            ids = [source_id for source_id, _ in chunk]
            list(Source.objects.select_for_update().filter(pk__in=ids).order_by("pk").values("pk"))
            with connection.cursor() as cursor:
                _refresh_chunk(cursor, chunk)


_REFRESH_CHUNK = 5000
_BUCKETS = {
    "rec": "d.rec_id IS NOT NULL",
    "without_rec": "d.rec_id IS NULL AND d.state = 'Processed'",
    "new": "d.rec_id IS NULL AND d.state <> 'Processed'",
}


def _since_cte(chunk: list[tuple[int, dt.date]]) -> tuple[str, list]:
    """``s(source_id, since)``: the sources of this refresh and their first day."""
    if connection.vendor == "postgresql":
        return (
            "s(source_id, since) AS (SELECT * FROM unnest(%s::bigint[], %s::date[]))",
            [[i for i, _ in chunk], [d for _, d in chunk]],
        )
    values = ", ".join(["(%s, %s)"] * len(chunk))
    params = [v for source_id, day in chunk for v in (source_id, day.isoformat())]
    return f"s(source_id, since) AS (VALUES {values})", params


def _day_of(column: str) -> str:
    if connection.vendor == "postgresql":
        return f"({column} AT TIME ZONE 'UTC')::date"
    return f"date({column})"


def _move_counters(cursor, cte: str, params: list, sign: str) -> None:
    sums = ",\n".join(
        f"SUM(CASE WHEN {cond} THEN d.number ELSE 0 END) AS {name}_number,\n"
        f"SUM(CASE WHEN {cond} THEN d.value ELSE 0 END) AS {name}_sum"
        for name, cond in _BUCKETS.items()
    )
    sets = ", ".join(f"{c} = energy_source.{c} {sign} part.{c}" for c in Source.COUNTERS)
    cursor.execute(
        f"""
        WITH {cte}, part AS (
            SELECT d.source_id, {sums}, SUM(d.number) AS attribution_count
            FROM energy_dailyaggregate d JOIN s ON d.source_id = s.source_id AND d.day >= s.since
            GROUP BY d.source_id
        )
        UPDATE energy_source
        SET {sets},
            attribution_count = energy_source.attribution_count {sign} part.attribution_count
        FROM part WHERE energy_source.id = part.source_id
        """,
        params,
    )


def _refresh_chunk(cursor, chunk: list[tuple[int, dt.date]]) -> None:
    cte, params = _since_cte(chunk)
    _move_counters(cursor, cte, params, "-")
    cursor.execute(
        f"""
        WITH {cte}
        DELETE FROM energy_dailyaggregate WHERE EXISTS (
            SELECT 1 FROM s WHERE s.source_id = energy_dailyaggregate.source_id
            AND energy_dailyaggregate.day >= s.since
        )
        """,
        params,
    )
    # seq ascending runs oldest day first and, within a day, in the reverse of
    # the listing order (New, Pending, Processed; unlinked, then by REC), so
    # that listing by seq descending gives the API's order.
    cursor.execute(
        f"""
        WITH {cte}, g AS (
            SELECT a.source_id, {_day_of("a.effective_time")} AS day, a.state, a.rec_id,
                   COUNT(*) AS number, SUM(a.value) AS value
            FROM energy_attribution a
            JOIN s ON a.source_id = s.source_id AND a.effective_time >= s.since
            WHERE a.kind = 'metered'
            GROUP BY a.source_id, {_day_of("a.effective_time")}, a.state, a.rec_id
        )
        INSERT INTO energy_dailyaggregate (source_id, seq, day, state, rec_id, number, value)
        SELECT g.source_id,
               COALESCE((SELECT MAX(d.seq) FROM energy_dailyaggregate d
                         WHERE d.source_id = g.source_id), 0)
               + ROW_NUMBER() OVER (
                   PARTITION BY g.source_id
                   ORDER BY g.day,
                            CASE g.state WHEN 'New' THEN 0 WHEN 'Pending' THEN 1 ELSE 2 END DESC,
                            COALESCE(g.rec_id, 0) DESC),
               g.day, g.state, g.rec_id, g.number, g.value
        FROM g
        """,
        params,
    )
    _move_counters(cursor, cte, params, "+")
    cursor.execute(
        f"""
        WITH {cte}
        UPDATE energy_source
        SET daily_count = COALESCE((SELECT MAX(d.seq) FROM energy_dailyaggregate d
                                    WHERE d.source_id = energy_source.id), 0),
            modified = %s
        WHERE id IN (SELECT source_id FROM s)
        """,
        [*params, connection.ops.adapt_datetimefield_value(timezone.now())],
    )
