"""Push ingestion: decode and verify reports, store their samples in the reading log.

The log is append-only. A source's samples move forward in time and never
decrease in cumulative energy; a sample identical to one already stored is a
retry and is accepted without being stored twice; anything else that goes
back is refused, and so is the rest of its report. Every check runs under the
source's row lock, so concurrent reports for one source serialize.
"""

import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import pairwise

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from eth_keys import KeyAPI
from eth_keys.exceptions import BadSignature, ValidationError
from eth_utils import keccak, to_checksum_address

from core.sql import insert_rows, update_by_id
from energy.models import Customer, Reading, Report, Source

MAX_INT64 = 2**63 - 1
# The last second a datetime can hold (9999-12-31T23:59:59Z); a sample's 5-byte
# time reaches past it.
MAX_SAMPLE_SECONDS = 253_402_300_799
# A sample from the future would block every real one after it.
MAX_CLOCK_SKEW = dt.timedelta(minutes=10)
# secp256k1's group order, halved: the bound of a canonical (low-s) signature.
SECP256K1_HALF_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141 // 2
ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
CLIENT_ID = re.compile(r"0x[0-9a-fA-F]{64}")
SAMPLE_HEX = re.compile(r"[0-9a-fA-F]{40}")
_keys = KeyAPI()


class RpcError(Exception):
    """A JSON-RPC error object: ``code``, ``message`` and optional ``data``."""

    def __init__(self, code: int, message: str, data=None):
        super().__init__(message)
        self.code, self.message, self.data = code, message, data

    def as_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def invalid_params(field_name: str, reason: str) -> RpcError:
    return RpcError(-32602, "Invalid params", {"field": field_name, "reason": reason})


# The methods' own codes (shared/spec); -326xx are JSON-RPC's.
INVALID_SIGNATURE = (12201, "Invalid Signature")
INVALID_CONTENT = (12207, "Invalid Transaction Content")
MINER_NOT_FOUND = (12208, "Miner Not Found")
INVALID_TOKEN = (1000, "Invalid authorization token")
INVALID_CLIENT = (4002, "Invalid clientId")
INVALID_ENERGY = (4003, "Invalid energy data")
DEVICE_NOT_EXISTED = (3005, "device is not existed")


def fail(code_message: tuple[int, str], reason: str | None = None) -> RpcError:
    code, message = code_message
    return RpcError(code, message, {"reason": reason} if reason else None)


@dataclass(frozen=True)
class Sample:
    time: dt.datetime
    power: int  # mW
    energy: int  # cumulative mWh


@dataclass
class Push:
    """One report to store: whose, its samples in time order, and how to refuse it."""

    method: str
    samples: list[Sample]
    refuse: tuple[int, str]  # the error for content that goes back
    miner_address: str | None = None  # lower-case; PoGG reports
    client_id: str | None = None  # lower-case; consumption reports
    customer_id: int | None = None
    signature: str = ""
    signed: str = ""  # the exact text the signature covers (PoGG reports)
    digest: bytes | None = None  # its keccak-256, the hash the device signed
    source: Source | None = field(default=None, repr=False)


def _integer(params: dict, name: str, *, maximum: int = MAX_INT64) -> int:
    value = params.get(name)
    if type(value) is not int:  # bool is an int subclass; floats are refused
        raise invalid_params(name, "must be an integer")
    if not 0 <= value <= maximum:
        raise invalid_params(name, f"must be between 0 and {maximum}")
    return value


def _object(params, names: tuple[str, ...]) -> dict:
    if isinstance(params, list) and len(params) == 1 and isinstance(params[0], dict):
        params = params[0]
    if not isinstance(params, dict):
        raise invalid_params("params", "must be an object")
    missing = [n for n in names if n not in params]
    if missing:
        raise invalid_params(missing[0], "is required")
    return params


# -- tx_reportMinerPoGG ------------------------------------------------------------

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}


def base58_decode(text: str) -> bytes:
    """Bitcoin-alphabet base58; raises ValueError on a character outside it."""
    number = 0
    for char in text:
        digit = _B58_INDEX.get(char)
        if digit is None:
            raise ValueError(f"{char!r} is not base58")
        number = number * 58 + digit
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    return b"\0" * (len(text) - len(text.lstrip("1"))) + body


def base58_encode(data: bytes) -> str:
    number = int.from_bytes(data, "big")
    out = []
    while number:
        number, digit = divmod(number, 58)
        out.append(_B58[digit])
    return "1" * (len(data) - len(data.lstrip(b"\0"))) + "".join(reversed(out))


def pogg_message(version: int, address: str, data_list: list[str]) -> bytes:
    """The signed text: compact JSON with the keys in this order, as JSON.stringify writes it."""
    body = {"version": version, "address": address, "dataList": data_list}
    return json.dumps(body, separators=(",", ":")).encode()


def pogg_sign(private_key: bytes, version: int, address: str, data_list: list[str]) -> str:
    """A report signature as miners make it (used by tests, the simulator and the bench)."""
    digest = keccak(pogg_message(version, address, data_list))
    signature = _keys.PrivateKey(private_key).sign_msg_hash(digest)
    r, s, v = signature.r, signature.s, signature.v  # v is 0 or 1
    return base58_encode(r.to_bytes(32, "big") + s.to_bytes(32, "big") + bytes([v]))


def pogg_signer(version: int, address: str, data_list: list[str], signature: str) -> str:
    """The lower-case address that signed the report; raises RpcError 12201."""
    return signer_of_digest(keccak(pogg_message(version, address, data_list)), signature)


def pogg_signer_of_text(signed: str, signature: str) -> str | None:
    """The lower-case address that signed this stored report text, or None if the
    signature does not recover (what anyone can check with the text alone)."""
    try:
        return signer_of_digest(keccak(signed.encode()), signature)
    except RpcError:
        return None


def signer_of_digest(digest: bytes, signature: str) -> str:
    """The lower-case address whose key signed ``digest``; raises RpcError 12201."""
    try:
        raw = base58_decode(signature)
    except ValueError as error:
        raise fail(INVALID_SIGNATURE, str(error)) from None
    if len(raw) != 65 or raw[64] not in (0, 1):
        raise fail(INVALID_SIGNATURE, "must be 65 bytes r, s, v (0 or 1) in base58")
    s = int.from_bytes(raw[32:64], "big")
    if s > SECP256K1_HALF_N:
        # (r, n - s) with v flipped is the same signer's too: only the low-s form of a
        # signature is accepted, so each report has one signature (EIP-2).
        raise fail(INVALID_SIGNATURE, "s must be in the lower half of the curve order (EIP-2)")
    try:
        vrs = (raw[64], int.from_bytes(raw[:32], "big"), s)
        public_key = _keys.Signature(vrs=vrs).recover_public_key_from_msg_hash(digest)
    except (BadSignature, ValidationError) as error:
        raise fail(INVALID_SIGNATURE, str(error)) from None
    return public_key.to_address().lower()


def decode_sample(item: str) -> Sample:
    """One 20-byte dataList element: version 01, 5-byte seconds, 6-byte mW, 8-byte mWh."""
    if not isinstance(item, str) or not SAMPLE_HEX.fullmatch(item):
        raise fail(INVALID_CONTENT, "a sample must be 40 hex digits")
    if item[:2] != "01":
        raise fail(INVALID_CONTENT, f"unknown sample version {item[:2]}")
    seconds, power, energy = int(item[2:12], 16), int(item[12:24], 16), int(item[24:40], 16)
    if energy > MAX_INT64:
        raise fail(INVALID_CONTENT, "cumulative energy out of range")
    if seconds > MAX_SAMPLE_SECONDS:
        raise fail(INVALID_CONTENT, "sample time out of range")
    return Sample(dt.datetime.fromtimestamp(seconds, dt.UTC), power, energy)


def signed_samples(signed: str):
    """(time, mW, cumulative mWh) of each sample of a stored signed report text."""
    for item in json.loads(signed)["dataList"]:
        sample = decode_sample(item)
        yield sample.time, sample.power, sample.energy


def _plausible_rise(before: Sample, after: Sample, refuse: tuple[int, str]) -> None:
    """Refuse a rise of cumulative energy no plant could produce in the time between."""
    micros = (after.time - before.time) // dt.timedelta(microseconds=1)
    rise = after.energy - before.energy
    # W x us / 3,600,000,000 = Wh, x 1000 = mWh: compared in integers, without division.
    if rise * 3_600_000_000 > settings.MAX_SOURCE_POWER_W * 1000 * micros:
        raise fail(
            refuse,
            f"cumulative energy rose by {rise} mWh in {Decimal(micros) / 10**6} s: "
            f"more than {settings.MAX_SOURCE_POWER_W} W could produce",
        )


def _in_order(samples: list[Sample], refuse: tuple[int, str], now: dt.datetime) -> None:
    for before, after in pairwise(samples):
        if after.time <= before.time:
            raise fail(refuse, "sample times must increase")
        if after.energy < before.energy:
            raise fail(refuse, "cumulative energy must not decrease")
        _plausible_rise(before, after, refuse)
    if samples and samples[-1].time > now + MAX_CLOCK_SKEW:
        raise fail(refuse, "sample time is in the future")
    oldest = now - dt.timedelta(days=settings.MAX_BACKFILL_DAYS)
    if samples and samples[0].time < oldest:
        raise fail(
            refuse,
            f"sample time {samples[0].time:%Y-%m-%dT%H:%M:%SZ} is more than "
            f"{settings.MAX_BACKFILL_DAYS} days old (MAX_BACKFILL_DAYS)",
        )


def pogg_parse(params, now: dt.datetime) -> Push:
    """Check a tx_reportMinerPoGG call up to its signature; raises RpcError."""
    params = _object(params, ("version", "address", "dataList", "signature"))
    version = params["version"]
    if type(version) is not int:
        raise invalid_params("version", "must be an integer")
    address = params["address"]
    if not isinstance(address, str) or not ADDRESS.fullmatch(address):
        raise invalid_params("address", "must be 0x followed by 40 hex digits")
    data_list = params["dataList"]
    if not isinstance(data_list, list) or not all(isinstance(i, str) for i in data_list):
        raise invalid_params("dataList", "must be an array of hex strings")
    signature = params["signature"]
    if not isinstance(signature, str) or len(signature) > 100:
        raise invalid_params("signature", "must be a base58 string")
    if version != 1:
        raise fail(INVALID_CONTENT, f"unsupported report version {version}")
    if not data_list:
        raise fail(INVALID_CONTENT, "dataList is empty")
    if len(data_list) > 1000:
        raise fail(INVALID_CONTENT, "at most 1000 samples per report")
    samples = [decode_sample(item) for item in data_list]
    _in_order(samples, INVALID_CONTENT, now)
    message = pogg_message(version, address, data_list)
    digest = keccak(message)
    if signer_of_digest(digest, signature) != address.lower():
        raise fail(INVALID_SIGNATURE, "not signed by address")
    return Push(
        method=Report.Method.POGG,
        samples=samples,
        refuse=INVALID_CONTENT,
        miner_address=address.lower(),
        signature=signature,
        signed=message.decode(),
        digest=digest,
    )


# -- edr_reportConsumeData ---------------------------------------------------------


def consume_parse(params, customer: Customer | None, now: dt.datetime) -> Push:
    """Check an edr_reportConsumeData call; its sample time is the time of receipt."""
    params = _object(params, ("clientId", "power", "energy"))
    client_id = params["clientId"]
    if not isinstance(client_id, str):
        raise invalid_params("clientId", "must be a string")
    power, energy = _integer(params, "power"), _integer(params, "energy")
    if customer is None:
        raise fail(INVALID_TOKEN)
    if not CLIENT_ID.fullmatch(client_id):
        raise fail(INVALID_CLIENT, "must be 0x followed by 64 hex digits")
    return Push(
        method=Report.Method.CONSUME,
        samples=[Sample(now, power, energy)],
        refuse=INVALID_ENERGY,
        client_id=client_id.lower(),
        customer_id=customer.pk,
    )


# -- net_getMinerByAddress ---------------------------------------------------------


def miner_by_address(params) -> dict:
    if isinstance(params, dict):
        params = [params.get("address")]
    if not isinstance(params, list) or len(params) != 1:
        raise invalid_params("address", "give the miner address")
    address = params[0]
    if not isinstance(address, str) or not ADDRESS.fullmatch(address):
        raise invalid_params("address", "must be 0x followed by 40 hex digits")
    source = Source.objects.filter(miner_address=address.lower()).first()
    if source is None:
        raise fail(MINER_NOT_FOUND)
    if source.state != Source.SourceState.ACTIVE:
        raise fail(DEVICE_NOT_EXISTED, "the miner is not active")
    return {
        "address": to_checksum_address(source.miner_address),
        "ownerAddress": to_checksum_address(source.owner_address) if source.owner_address else None,
        "capacity": source.capacity_wh or 0,
        "totalEnergyGeneration": str(source.last_energy or 0),
    }


# -- storing -----------------------------------------------------------------------


def _lock_sources(pushes: list[Push]) -> None:
    """Find and row-lock (in id order) the source of every push; set ``push.source``."""
    addresses = {p.miner_address for p in pushes if p.miner_address}
    client_ids = {p.client_id for p in pushes if p.client_id}
    found = (
        Source.objects.select_for_update()
        .filter(Q(miner_address__in=addresses) | Q(client_id__in=client_ids))
        .order_by("pk")
    )
    by_address, by_client = {}, {}
    for source in found:
        by_address[source.miner_address] = source
        by_client[source.client_id] = source
    active = Source.SourceState.ACTIVE
    for push in pushes:
        if push.miner_address:
            source = by_address.get(push.miner_address)
            if source and source.state == active and source.type != Source.Type.CONSUMER:
                push.source = source
        else:
            source = by_client.get(push.client_id)
            if (
                source
                and source.customer_id == push.customer_id
                and (source.type == Source.Type.CONSUMER and source.state == active)
            ):
                push.source = source


# Sample times per lookup of stored readings: SQLite refuses an expression tree
# deeper than 1,000 and more than 32,766 parameters, so resending a batch of
# 100 reports x 12 samples would fail in one statement.
LOOKUP_CHUNK = 500


def _stored_samples(pushes: list[Push]) -> dict[tuple[int, dt.datetime], tuple[int, int]]:
    """The stored readings that samples at or before their source's newest one name."""
    wanted: dict[int, set[dt.datetime]] = {}
    for push in pushes:
        source = push.source
        if source is None or source.last_sample_time is None:
            continue
        for sample in push.samples:
            if sample.time <= source.last_sample_time:
                wanted.setdefault(source.pk, set()).add(sample.time)
    found = {}
    for source_id, times in wanted.items():
        ordered = sorted(times)
        for i in range(0, len(ordered), LOOKUP_CHUNK):
            rows = Reading.objects.filter(
                source_id=source_id, sample_time__in=ordered[i : i + LOOKUP_CHUNK]
            ).values_list("sample_time", "power", "energy")
            found |= {(source_id, when): (power, energy) for when, power, energy in rows}
    return found


def _new_samples(push: Push, stored: dict) -> list[Sample]:
    """The samples of ``push`` not yet stored; raises RpcError if any goes back."""
    source = push.source
    last_time, last_energy = source.last_sample_time, source.last_energy
    if push.method == Report.Method.CONSUME and last_time and push.samples[0].time <= last_time:
        # Stamped on receipt: two calls in one batch must still move forward.
        push.samples = [replace(push.samples[0], time=last_time + dt.timedelta(microseconds=1))]
    fresh = []
    if source.commissioned and push.samples[0].time.date() < source.commissioned:
        raise fail(
            push.refuse,
            f"sample time {push.samples[0].time:%Y-%m-%dT%H:%M:%SZ} is before the source's "
            f"commissioning date {source.commissioned:%Y-%m-%d}",
        )
    for sample in push.samples:
        if last_time is not None and sample.time <= last_time:
            if stored.get((source.pk, sample.time)) != (sample.power, sample.energy):
                raise fail(push.refuse, "conflicts with or is older than a stored sample")
            continue  # a retry of a stored sample
        if last_energy is not None and sample.energy < last_energy:
            raise fail(push.refuse, "cumulative energy went down")
        if last_time is not None and not fresh:
            _plausible_rise(Sample(last_time, 0, last_energy), sample, push.refuse)
        fresh.append(sample)
    return fresh


def pushes_store(
    pushes: list[Push], *, request_id: uuid.UUID, received: dt.datetime
) -> list[RpcError | None]:
    """Store the new samples of each push, in order; one result per push.

    All pushes of one HTTP request share one transaction: their sources are
    locked once, in id order, so concurrent requests never deadlock and a
    source's newest sample is always read after the previous writer committed.
    """
    results: list[RpcError | None] = []
    with transaction.atomic():
        _lock_sources(pushes)
        stored = _stored_samples(pushes)
        reports, touched = [], {}
        for push in pushes:
            if push.source is None:
                missing = MINER_NOT_FOUND if push.miner_address else INVALID_CLIENT
                results.append(fail(missing))
                continue
            try:
                fresh = _new_samples(push, stored)
            except RpcError as error:
                results.append(error)
                continue
            results.append(None)
            if not fresh:
                continue
            source = push.source
            for sample in fresh:
                stored[(source.pk, sample.time)] = (sample.power, sample.energy)
            source.last_sample_time, source.last_energy = fresh[-1].time, fresh[-1].energy
            touched[source.pk] = source
            reports.append(
                (source.pk, push.method, push.signature, push.signed, push.digest, fresh)
            )
        if reports:
            _reports_insert(reports, request_id, received)
            update_by_id(
                "energy_source",
                {"last_sample_time": "timestamptz", "last_energy": "bigint"},
                [(s.pk, s.last_sample_time, s.last_energy) for s in touched.values()],
            )
    return results


def _reports_insert(
    reports: list[tuple[int, str, str, str, bytes | None, list[Sample]]],
    request_id: uuid.UUID,
    received,
) -> None:
    """One Report row per (source id, method, signature, signed text, digest, samples),
    then their readings."""
    adapt = connection.ops.adapt_datetimefield_value
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(reports))
    params = [
        v
        for source_id, method, signature, signed, digest, samples in reports
        for v in (
            source_id, method, adapt(received), str(request_id), signature, signed, digest,
            len(samples),
        )
    ]  # fmt: skip
    with connection.cursor() as cursor:
        # RETURNING gives the ids in the order of VALUES, as Django's bulk_create relies on.
        cursor.execute(
            "INSERT INTO energy_report (source_id, method, received, request_id, signature,"
            f" signed, digest, samples) VALUES {values} RETURNING id",
            params,
        )
        ids = [row[0] for row in cursor.fetchall()]
    insert_rows(
        "energy_reading",
        ["source_id", "report_id", "sample_time", "power", "energy"],
        [
            (source_id, report_id, sample.time, sample.power, sample.energy)
            for report_id, (source_id, *_, samples) in zip(ids, reports, strict=True)
            for sample in samples
        ],
    )
