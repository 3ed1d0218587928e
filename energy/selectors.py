"""Reads behind the energy endpoints: every list is (total, rows of one page)."""

from django.db.models import Q
from eth_utils import keccak, to_checksum_address

from chain.hashing import attribution_leaf
from chain.selectors import leaf_proof
from core.paging import Page, newest_first, path_id
from energy import certificates
from energy.evidence import Boundary, evidence_of, signer_of
from energy.models import Attribution, Customer, DailyAggregate, Source


def source_list(*, customer: Customer, page: Page) -> tuple[int, list[Source]]:
    # A customer's sources number in the thousands, not millions: a plain
    # count and OFFSET on the (customer, id) index stay cheap.
    sources = Source.objects.filter(customer=customer)
    total = sources.count()
    if page.offset >= total:
        return total, []
    rows = sources.select_related("parent").order_by("id")[page.offset : page.offset + page.size]
    return total, list(rows)


def source_find(*, customer: Customer, device_id: str) -> Source:
    """The customer's source by internal id or external id (internal id wins a tie).

    Raises Source.DoesNotExist, for another customer's source too.
    """
    if not device_id or len(device_id) > 128 or "\x00" in device_id:
        raise Source.DoesNotExist(device_id)  # no stored external id looks like this
    match = Q(external_id=device_id)
    if (as_id := path_id(device_id)) is not None:
        match |= Q(pk=as_id)
    # At most two rows: one by id, one by external id (unique per customer).
    found = sorted(Source.objects.filter(match, customer=customer), key=lambda s: s.pk != as_id)
    if not found:
        raise Source.DoesNotExist(device_id)
    return found[0]


def attribution_page(*, source: Source, page: Page) -> tuple[int, list[Attribution]]:
    total, rows = newest_first(
        Attribution.objects.filter(source=source), source.attribution_count, page
    )
    certificates.attach(rows)
    return total, rows


def daily_page(*, source: Source, page: Page) -> tuple[int, list[DailyAggregate]]:
    total, rows = newest_first(
        DailyAggregate.objects.filter(source=source), source.daily_count, page
    )
    recs = certificates.recs_by_id(row.rec_id for row in rows)
    for row in rows:
        row.rec = recs.get(row.rec_id)
    return total, rows


def attribution_get(*, source: Source, attribution_id: str) -> Attribution:
    """One of the source's transactions; raises DoesNotExist."""
    if (pk := path_id(attribution_id)) is None:
        raise Attribution.DoesNotExist(attribution_id)
    return Attribution.objects.select_related("ledger_block", "source").get(pk=pk, source=source)


def attribution_proof(*, attribution: Attribution) -> dict | None:
    """Everything needed to check the attribution against the chain; None if unsealed."""
    block = attribution.ledger_block
    if block is None:
        return None
    proof = leaf_proof(block=block, leaf_id=attribution.pk)
    return {
        "attribution_id": attribution.pk,
        "leaf": proof.pop("leaf"),
        "leaf_fields": _leaf_fields(attribution),
        **proof,
    }


def _leaf_fields(attribution: Attribution) -> dict:
    fields = {
        "client_id": attribution.source.client_id,
        "external_id": attribution.external_id,
        "effective_time": int(attribution.effective_time.timestamp()),
        "value": attribution.value,
    }
    if attribution.evidence is not None:
        fields["evidence"] = "0x" + bytes(attribution.evidence).hex()
    return fields


EVIDENCE_CHECK = [
    "1. For each report: keccak-256 of the UTF-8 bytes of `payload` is its `digest`, and "
    "the base58 `signature` (r, s, v) over that digest recovers to `miner_address`.",
    "2. keccak-256 over the reports' digests, concatenated in the order given, is "
    "`leaf_fields.evidence`.",
    "3. Each sample of `start` and `end` is one of the `dataList` items of the report it "
    "names (version 01, 5-byte seconds, 6-byte mW, 8-byte cumulative mWh).",
    "4. Cumulative energy at a boundary: a lone sample's own; else e1 + (e2 - e1) * "
    "(at - t1) // (t2 - t1). `end` minus `start` is `leaf_fields.value`.",
    "5. The leaf is keccak-256 of abi.encode(keccak256('cg.attribution.v2'), client_id, "
    "keccak256(external_id), effective_time, value, evidence): check it against the "
    "chain with /proof.",
]


def attribution_evidence(*, attribution: Attribution) -> dict | None:
    """The signed reports the transaction was read from and how to check them; None
    when it was not read from signed reports."""
    if attribution.evidence is None or (found := evidence_of(attribution)) is None:
        return None
    index = {report.pk: i for i, report in enumerate(found.reports)}

    def boundary(b: Boundary) -> dict:
        return {
            "at": int(b.at.timestamp()),
            "energy": found.energy(b),
            "samples": [
                {
                    "report": index[r.report_id],
                    "time": int(r.sample_time.timestamp()),
                    "power": r.power,
                    "energy": r.energy,
                }
                for r in b.samples
            ],
        }

    def signer(report) -> str | None:
        address = signer_of(report)
        return to_checksum_address(address) if address else None

    fields = _leaf_fields(attribution)
    source = attribution.source
    return {
        "attribution_id": attribution.pk,
        "leaf": "0x"
        + attribution_leaf(
            source.client_id,
            attribution.external_id,
            attribution.effective_time,
            attribution.value,
            bytes(attribution.evidence),
        ).hex(),
        "leaf_fields": fields,
        "miner_address": to_checksum_address(source.miner_address)
        if source.miner_address
        else None,
        "start": boundary(found.start),
        "end": boundary(found.end),
        "reports": [
            {
                "id": report.pk,
                "method": report.method,
                "payload": report.signed,
                "signature": report.signature,
                "digest": "0x" + keccak(report.signed.encode()).hex(),
                "signer": signer(report),
            }
            for report in found.reports
        ],
        "check": EVIDENCE_CHECK,
    }
