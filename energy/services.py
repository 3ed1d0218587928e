"""Writes to customers, tokens, sources and the attribution ledger."""

import datetime as dt
import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.units import carbon_offset_mg
from energy.auth import token_digest
from energy.models import (
    GENERATING,
    ApiToken,
    Attribution,
    Customer,
    Quality,
    Source,
    Technology,
    is_country,
)
from energy.transitions import attributions_appended

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


# What other apps keep per customer (recs: its account) is made with the customer, in
# its transaction, by the functions they register here: energy knows none of them.
_CUSTOMER_CREATED: list[Callable[[Customer], object]] = []


def on_customer_created(hook: Callable[[Customer], object]) -> None:
    if hook not in _CUSTOMER_CREATED:
        _CUSTOMER_CREATED.append(hook)


def customer_create(*, name: str) -> tuple[Customer, str]:
    name = name.strip()
    if not name:
        raise ValidationError("customer name must not be empty")
    with transaction.atomic():
        if Customer.objects.filter(name=name).exists():
            raise ValidationError(f"customer {name!r} already exists")
        customer = Customer.objects.create(name=name)
        _, plain = token_create(customer=customer, label="created with the customer")
        for hook in _CUSTOMER_CREATED:
            hook(customer)
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
    commissioned: dt.date | str | None = None,
    technology: str = Technology.OTHER,
    country: str = "",
    latitude: Decimal | str | None = None,
    longitude: Decimal | str | None = None,
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
    if capacity_wh is None and type in GENERATING:
        raise ValidationError("a generation source needs a capacity: its hours are bounded by it")
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
    if isinstance(commissioned, str):
        try:
            commissioned = dt.date.fromisoformat(commissioned)
        except ValueError:
            raise ValidationError(
                f"commissioning date must be YYYY-MM-DD, not {commissioned!r}"
            ) from None
    if commissioned is not None and commissioned > timezone.now().date():
        raise ValidationError("commissioning date must not be in the future")
    _choice("technology", technology, Technology.values)
    country = (country or "").strip().upper()
    if country and not is_country(country):
        raise ValidationError(f"country must be an ISO 3166-1 alpha-2 code, not {country!r}")
    latitude, longitude = _coordinates(latitude, longitude)
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
        "commissioned": commissioned,
        "technology": technology,
        "country": country,
        "latitude": latitude,
        "longitude": longitude,
    }


def _coordinates(latitude, longitude) -> tuple[Decimal | None, Decimal | None]:
    if latitude is None and longitude is None:
        return None, None
    if latitude is None or longitude is None:
        raise ValidationError("give both latitude and longitude, or neither")
    found = []
    for name, value, bound in (("latitude", latitude, 90), ("longitude", longitude, 180)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValidationError(f"{name} {value!r} is not a number") from None
        if not number.is_finite() or not -bound <= number <= bound:
            raise ValidationError(f"{name} must be between -{bound} and {bound}")
        found.append(number.quantize(Decimal("0.000001")))
    return found[0], found[1]


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
        attributions_appended(
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
        return list(
            Attribution.objects.filter(source=locked, seq__gt=locked.attribution_count).order_by(
                "seq"
            )
        )


def attributions_decide(*, attribution_ids: Sequence[int], release: bool, reason: str) -> int:
    """An operator's decision on quarantined hours: released ones flow on to RECs,
    rejected ones stay in the ledger and never enter one. Only a quarantined hour is
    decided, once; the number decided."""
    reason = reason.strip()
    if not reason:
        raise ValidationError("a decision needs a reason")
    quality = Quality.RELEASED if release else Quality.REJECTED
    return Attribution.objects.filter(pk__in=attribution_ids, quality=Quality.QUARANTINED).update(
        quality=quality, quality_reason=reason[:300], modified=timezone.now()
    )
