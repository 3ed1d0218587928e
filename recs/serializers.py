import re

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from core.fields import DegreesField, TimestampField
from core.serializers import (
    LeafProofSerializer,
    PositiveIntegerField,
    RecSerializer,
    WireSerializer,
)
from core.units import mwh_text
from core.wire import RawNumber, timestamp
from energy.models import is_country


class RecListItemSerializer(RecSerializer):
    total = serializers.IntegerField(help_text="number of RECs of the customer")


class RecDetailSerializer(RecSerializer):
    """Schema of /recs/{id}: the REC, ``code`` 0 and one page of its transactions."""

    code = serializers.IntegerField()
    transactions = serializers.ListField(child=serializers.DictField())


class RecProofSerializer(LeafProofSerializer):
    """Schema of /recs/{id}/proof: the REC's leaf, what it covers, and its Merkle proof."""

    rec_id = serializers.IntegerField()
    leaf = serializers.CharField(
        help_text="0x + keccak-256(keccak256('cg.rec.v2') ‖ client id ‖ uint256 serial ‖ "
        "(member leaf ‖ uint256 mWh taken) for each member); version 1 RECs (issued before "
        "the serial was committed): keccak256('cg.rec.v1') and no serial"
    )
    leaf_fields = serializers.DictField(
        help_text="client_id, version, serial, and members: attribution_id, device_id, "
        "leaf, taken (mWh)"
    )


class AccountSerializer(serializers.Serializer):
    """Schema of /account (cg-rec-lifecycle-api.md, Accounts)."""

    account = serializers.CharField(help_text="the public code a seller sends RECs to")
    name = serializers.CharField()
    created = TimestampField()
    held = serializers.IntegerField(help_text="RECs held active")
    retired = serializers.IntegerField(help_text="RECs retired")
    on_chain = serializers.IntegerField(help_text="RECs tokenized: minted, or being minted")


class HoldingSourceSerializer(WireSerializer):
    optional = frozenset({"country", "capacity", "commissioned"})

    id = serializers.IntegerField()
    external_id = serializers.CharField()
    name = serializers.CharField()
    technology = serializers.CharField()
    country = serializers.CharField(required=False)
    capacity = serializers.IntegerField(source="capacity_wh", required=False, help_text="W")
    commissioned = serializers.DateField(required=False)


class HoldingSerializer(WireSerializer):
    """A bundle of /holdings: a run of serials of one source in one status."""

    source = HoldingSourceSerializer()
    first = serializers.SerializerMethodField()
    last = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()
    status = serializers.CharField()
    production_start = TimestampField()
    production_end = TimestampField()

    def get_first(self, bundle) -> str:
        return f"{bundle.source_id}-{bundle.first}"

    def get_last(self, bundle) -> str:
        return f"{bundle.source_id}-{bundle.last}"


class HoldingListItemSerializer(HoldingSerializer):
    total = serializers.IntegerField(help_text="number of bundles listed")


class RangeSerializer(serializers.Serializer):
    """A run of serials a transfer or retirement moved."""

    source = serializers.IntegerField(source="source_id")
    first = serializers.SerializerMethodField()
    last = serializers.SerializerMethodField()
    quantity = serializers.IntegerField()

    def get_first(self, run) -> str:
        return f"{run.source_id}-{run.first}"

    def get_last(self, run) -> str:
        return f"{run.source_id}-{run.last}"


class TransferSerializer(WireSerializer):
    """A transfer (cg-rec-lifecycle-api.md, Transfers)."""

    optional = frozenset({"status_changed"})

    id = serializers.IntegerField()
    status = serializers.CharField()
    # "from" is a Python keyword: the field is renamed in to_representation.
    from_ = serializers.CharField(source="sender.code")
    to = serializers.CharField(source="receiver.code")
    quantity = serializers.IntegerField()
    bundles = RangeSerializer(source="range_list", many=True)
    created = TimestampField()
    status_changed = TimestampField(required=False)

    def to_representation(self, transfer) -> dict:
        data = super().to_representation(transfer)
        return {"id": data.pop("id"), "status": data.pop("status"), "from": data.pop("from_"),
                **data}  # fmt: skip


class TransferListItemSerializer(TransferSerializer):
    total = serializers.IntegerField(help_text="number of transfers sent and received")


_SERIAL = re.compile(r"[1-9][0-9]{0,17}-[1-9][0-9]{0,17}")
# A request names at most this many RECs one by one (quantity has no such bound).
MAX_NAMED = 10_000


@extend_schema_field({"type": "string", "pattern": "^[1-9][0-9]*-[1-9][0-9]*$", "example": "12-41"})
class SerialField(serializers.Field):
    """``<source id>-<n>``, as a (source id, n) pair."""

    def to_internal_value(self, data) -> tuple[int, int]:
        if not isinstance(data, str) or not _SERIAL.fullmatch(data):
            raise serializers.ValidationError(f"{data!r} is not a serial such as '12-41'")
        source, serial = data.split("-")
        return int(source), int(serial)


class _PickSerializer(serializers.Serializer):
    """What a transfer or retirement moves: ``quantity`` (of ``source`` if given, oldest
    first) or exactly ``recs``."""

    source = serializers.CharField(required=False, max_length=128)
    quantity = PositiveIntegerField(required=False)
    recs = serializers.ListField(
        child=SerialField(), required=False, min_length=1, max_length=MAX_NAMED
    )

    def validate(self, data: dict) -> dict:
        if ("quantity" in data) == ("recs" in data):
            raise serializers.ValidationError({"quantity": "give either quantity or recs"})
        if "recs" in data and "source" in data:
            raise serializers.ValidationError({"source": "source goes with quantity, not recs"})
        if "recs" in data and len(set(data["recs"])) != len(data["recs"]):
            raise serializers.ValidationError({"recs": "a REC is named twice"})
        return data


class TransferRequestSerializer(_PickSerializer):
    """The body of POST /transfers."""

    to = serializers.CharField(max_length=64, help_text="the receiver's account code")

    def validate_to(self, code: str) -> str:
        return code.strip().upper()  # codes are read out and typed: case is no matter


class RetirementRequestSerializer(_PickSerializer):
    """The body of POST /retirements."""

    beneficiary = serializers.CharField(max_length=200)
    purpose = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
    country = serializers.CharField(max_length=2, min_length=2, help_text="where consumed")
    period_start = serializers.DateField()
    period_end = serializers.DateField()

    def validate_country(self, code: str) -> str:
        if not is_country(code.upper()):
            raise serializers.ValidationError(f"{code!r} is not an ISO 3166-1 alpha-2 code")
        return code.upper()

    def validate(self, data: dict) -> dict:
        if data["period_end"] < data["period_start"]:
            raise serializers.ValidationError({"period_end": "is before period_start"})
        return super().validate(data)


class TokenizationRequestSerializer(_PickSerializer):
    """The body of POST /tokenizations."""

    wallet = serializers.CharField(max_length=64, help_text="the address the tokens go to")


class TokenSerializer(serializers.Serializer):
    """One token id a mint carries: a source and vintage month, and how many RECs."""

    token_id = serializers.CharField(help_text="decimal: source id x 1,000,000 + yyyymm")
    amount = serializers.IntegerField()

    def to_representation(self, pair) -> dict:
        return {"token_id": pair[0], "amount": pair[1]}


class TokenizationSerializer(WireSerializer):
    """A tokenization: RECs minted to a wallet as RecToken tokens, and its mint's state."""

    optional = frozenset({"tx_hash", "height", "state_changed"})

    id = serializers.IntegerField()
    state = serializers.CharField(help_text="New, Pending, Processed, or Failed (reverted)")
    wallet = serializers.CharField()
    contract = serializers.CharField(help_text="the RecToken contract's address")
    quantity = serializers.IntegerField()
    bundles = RangeSerializer(source="range_list", many=True)
    tokens = TokenSerializer(many=True)
    tx_hash = serializers.CharField(required=False)
    height = serializers.IntegerField(required=False)
    created = TimestampField()
    state_changed = TimestampField(required=False)


class TokenizationListItemSerializer(TokenizationSerializer):
    total = serializers.IntegerField(help_text="number of tokenizations of the account")


class TokenEventSerializer(WireSerializer):
    """An event of the RecToken contract for one token id, from a final block."""

    optional = frozenset({"to", "claim"})

    kind = serializers.CharField(help_text="transfer, retired or redeemed")
    from_ = serializers.CharField(source="sender", help_text="zero address: a mint")
    to = serializers.CharField(source="receiver", required=False, help_text="zero: a burn")
    amount = serializers.IntegerField()
    block = serializers.IntegerField(source="block_number")
    tx_hash = serializers.CharField()
    log_index = serializers.IntegerField()
    claim = serializers.DictField(required=False, help_text="a retirement's or redemption's")

    def to_representation(self, event) -> dict:
        data = super().to_representation(event)
        if not data.get("claim"):
            data.pop("claim", None)
        return {"kind": data.pop("kind"), "from": data.pop("from_"), **data}


class TokenEventListItemSerializer(TokenEventSerializer):
    total = serializers.IntegerField(help_text="number of events of the token id")


class RetirementSerializer(WireSerializer):
    """A retirement (cg-rec-lifecycle-api.md, Retirements), with where its hash stands."""

    optional = frozenset({"purpose", "hash"})

    id = serializers.IntegerField()
    quantity = serializers.IntegerField()
    bundles = RangeSerializer(source="range_list", many=True)
    beneficiary = serializers.CharField()
    purpose = serializers.CharField(required=False)
    country = serializers.CharField()
    period_start = serializers.DateField()
    period_end = serializers.DateField()
    created = TimestampField()
    statement = serializers.SerializerMethodField()
    # Beyond the spec: the anchoring of its hash, as a REC's.
    state = serializers.CharField()
    hash = serializers.CharField(required=False)

    def get_statement(self, retirement) -> str:
        path = reverse("statement", kwargs={"statement_id": retirement.statement})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path


class RetirementListItemSerializer(RetirementSerializer):
    total = serializers.IntegerField(help_text="number of retirements of the account")


class StatementSourceSerializer(HoldingSourceSerializer):
    optional = HoldingSourceSerializer.optional | {"latitude", "longitude"}

    latitude = DegreesField(required=False)
    longitude = DegreesField(required=False)


class StatementRangeSerializer(RangeSerializer):
    source = StatementSourceSerializer()
    production_start = TimestampField()
    production_end = TimestampField()


class StatementRecSerializer(WireSerializer):
    optional = frozenset({"hash", "anchor"})

    serial = serializers.CharField(source="serial_number")
    id = serializers.IntegerField()
    hash = serializers.CharField(required=False)
    state = serializers.CharField()
    production_start = TimestampField()
    production_end = TimestampField()
    anchor = serializers.DictField(source="proof", required=False)


def statement_data(statement, url: str) -> dict:
    """The JSON of a public statement (cg-rec-lifecycle-api.md, Public statements)."""
    r = statement.retirement
    retirement = {"id": r.pk}
    if r.on_chain:  # burnt by a wallet: the claim is the hashes it put on chain
        on_chain = {
            "wallet": r.wallet,
            "tx_hash": r.tx_hash,
            "beneficiary_hash": "0x" + r.beneficiary_hash,
            "purpose_hash": "0x" + r.purpose_hash,
        }
        retirement["on_chain"] = on_chain
        claim = {k: on_chain[k] for k in ("beneficiary_hash", "purpose_hash")}
    else:
        retirement |= {"account": r.account.code, "holder": r.account.customer.name}
        claim = {"beneficiary": r.beneficiary, "purpose": r.purpose}
    retirement |= {
        **claim,
        "country": r.country,
        "period_start": r.period_start.isoformat(),
        "period_end": r.period_end.isoformat(),
        "quantity": r.quantity,
        "created": timestamp(r.created),
        "state": r.state,
    }
    if r.hash:
        retirement["hash"] = r.hash
    return {
        "statement": r.statement,
        "url": url,
        "retirement": retirement,
        # What the retirement's leaf is computed from (chain.hashing.retirement_leaf).
        "leaf_fields": {
            **claim,
            "country": r.country,
            "period_start": r.period_start.isoformat(),
            "period_end": r.period_end.isoformat(),
            "recs": [
                {"source": rec.source_id, "serial": rec.serial, "leaf": "0x" + rec.hash}
                for rec in statement.recs
                if rec.hash
            ],
        },
        "anchor": statement.proof,
        "bundles": StatementRangeSerializer(statement.ranges, many=True).data,
        "recs": StatementRecSerializer(statement.recs, many=True).data,
        # MWh as exact decimals, as everywhere on the wire: they sum to the quantity.
        "hourly": [
            {"hour": timestamp(hour), "energy": RawNumber(mwh_text(mwh))}
            for hour, mwh in statement.hourly
        ],
    }
