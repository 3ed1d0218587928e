"""Customers, their devices (sources) and the energy transactions read from them.

Energy is an integer number of milliwatt-hours everywhere in this module
(``core.units.MWH`` to the MWh). Attributions are ledger history: rows are
appended, then move forward through their states; the database refuses to
delete them or to rewrite what they assert (see migration 0002).
"""

import datetime as dt

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Trunc
from django.utils.functional import cached_property

HEX32 = r"^0x[0-9a-f]{64}$"


def is_country(code: str) -> bool:
    """Whether ``code`` is an assigned ISO 3166-1 alpha-2 code (upper case)."""
    import pycountry

    return len(code) == 2 and code.isupper() and pycountry.countries.get(alpha_2=code) is not None


ADDRESS = r"^0x[0-9a-f]{40}$"
SHA256_HEX = r"^[0-9a-f]{64}$"


class State(models.TextChoices):
    NEW = "New"
    PENDING = "Pending"
    PROCESSED = "Processed"


STATES = [value for value, _ in State.choices]


class Customer(models.Model):
    """The tenant: owns sources and RECs, authenticates with API tokens."""

    name = models.CharField(max_length=200, unique=True)
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    # DRF's IsAuthenticated asks the authenticated principal this.
    is_authenticated = True


class ApiToken(models.Model):
    """A bearer token; only its SHA-256 is stored, the token is shown once."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The first characters, so operators can tell tokens apart without the secret.
    prefix = models.CharField(max_length=10, editable=False)
    label = models.CharField(max_length=200, blank=True)
    created = models.DateTimeField(auto_now_add=True)
    revoked = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created"]
        constraints = [
            models.CheckConstraint(
                condition=Q(digest__regex=SHA256_HEX), name="%(app_label)s_%(class)s_digest_hex"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({'revoked' if self.revoked else 'active'})"


class NodeType(models.TextChoices):
    SITE = "site"
    METER = "meter"
    INVERTER = "inverter"
    GATEWAY = "gateway"


class SourceType(models.TextChoices):
    SOLAR = "solar"
    WIND = "wind"
    HYDRO = "hydro"
    BIOMASS = "biomass"
    GEOTHERMAL = "geothermal"
    STORAGE = "storage"
    SITE = "site"
    CONSUMER = "consumer"


# What these sources report is generation; their hours are bounded by their capacity.
GENERATING = frozenset(SourceType.values) - {SourceType.SITE, SourceType.CONSUMER}


class Technology(models.TextChoices):
    """What a certificate names as the source of its energy (the registries' fuel and
    technology codes, condensed)."""

    SOLAR_PV = "solar_pv", "Solar PV"
    WIND_ONSHORE = "wind_onshore"
    WIND_OFFSHORE = "wind_offshore"
    HYDRO = "hydro"
    BIOMASS = "biomass"
    GEOTHERMAL = "geothermal"
    STORAGE = "storage"
    OTHER = "other"


class SourceState(models.TextChoices):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Source(models.Model):
    """A device feeding data: a site, a meter, a consumer."""

    NodeType = NodeType
    Type = SourceType
    SourceState = SourceState

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="sources")
    external_id = models.CharField(max_length=128)
    name = models.CharField(max_length=200)
    node_type = models.CharField(max_length=16, choices=NodeType.choices, default=NodeType.METER)
    type = models.CharField(max_length=16, choices=SourceType.choices, default=SourceType.SOLAR)
    state = models.CharField(max_length=16, choices=SourceState.choices, default=SourceState.ACTIVE)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    # Issued by us; devices name themselves with it when they push data.
    client_id = models.CharField(max_length=66, unique=True, editable=False)
    # Lower-case hex, so uniqueness does not depend on EIP-55 letter case.
    miner_address = models.CharField(max_length=42, unique=True, null=True, blank=True)
    capacity_wh = models.BigIntegerField(null=True, blank=True)
    # When the plant began to produce: no sample dated before it is accepted.
    commissioned = models.DateField(null=True, blank=True)
    # What a certificate of its energy carries; "other" and blank until known.
    technology = models.CharField(
        max_length=16, choices=Technology.choices, default=Technology.OTHER
    )
    # ISO 3166-1 alpha-2, upper case; blank: unknown.
    country = models.CharField(max_length=2, blank=True, default="")
    latitude = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    # tCO2 per MWh, which is numerically mg CO2 per mWh.
    emission_factor = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)

    # Who onboarded the miner (net_getMinerByAddress answers with it).
    owner_address = models.CharField(max_length=42, null=True, blank=True)

    # The newest accepted reading: what a new sample must not go back from.
    last_sample_time = models.DateTimeField(null=True, blank=True, editable=False)
    last_energy = models.BigIntegerField(null=True, blank=True, editable=False)
    # Hourly attribution progress: hours up to ``hourly_closed_until`` have their
    # attribution; the cumulative energy interpolated there; the time of the
    # reading just before it, from which readings are still needed.
    hourly_closed_until = models.DateTimeField(null=True, blank=True, editable=False)
    hourly_closed_energy = models.BigIntegerField(null=True, blank=True, editable=False)
    hourly_from = models.DateTimeField(null=True, blank=True, editable=False)

    # Metered attributions read from this source; also the last Attribution.seq.
    attribution_count = models.BigIntegerField(default=0, editable=False)
    # Rows of the daily aggregation; also the last DailyAggregate.seq.
    daily_count = models.BigIntegerField(default=0, editable=False)
    # The spec's counters, a partition of the metered attributions:
    # linked to a REC / Processed without a REC / not yet Processed.
    rec_number = models.BigIntegerField(default=0, editable=False)
    rec_sum = models.BigIntegerField(default=0, editable=False)
    without_rec_number = models.BigIntegerField(default=0, editable=False)
    without_rec_sum = models.BigIntegerField(default=0, editable=False)
    new_number = models.BigIntegerField(default=0, editable=False)
    new_sum = models.BigIntegerField(default=0, editable=False)

    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    COUNTERS = (
        "rec_number",
        "rec_sum",
        "without_rec_number",
        "without_rec_sum",
        "new_number",
        "new_sum",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            # Serves the lookup of /attributions/{deviceId} by external id.
            models.UniqueConstraint(
                fields=["customer", "external_id"],
                name="%(app_label)s_%(class)s_external_id_unique_per_customer",
            ),
            models.CheckConstraint(
                condition=Q(client_id__regex=HEX32), name="%(app_label)s_%(class)s_client_id_hex"
            ),
            models.CheckConstraint(
                condition=Q(miner_address__isnull=True) | Q(miner_address__regex=ADDRESS),
                name="%(app_label)s_%(class)s_miner_address_hex",
            ),
            models.CheckConstraint(
                condition=Q(node_type__in=NodeType.values),
                name="%(app_label)s_%(class)s_node_type_valid",
            ),
            models.CheckConstraint(
                condition=Q(type__in=SourceType.values), name="%(app_label)s_%(class)s_type_valid"
            ),
            models.CheckConstraint(
                condition=Q(state__in=SourceState.values),
                name="%(app_label)s_%(class)s_state_valid",
            ),
            models.CheckConstraint(
                condition=Q(owner_address__isnull=True) | Q(owner_address__regex=ADDRESS),
                name="%(app_label)s_%(class)s_owner_address_hex",
            ),
            models.CheckConstraint(
                condition=Q(last_energy__isnull=True) | Q(last_energy__gte=0),
                name="%(app_label)s_%(class)s_last_energy_gte_0",
            ),
            models.CheckConstraint(
                condition=Q(capacity_wh__isnull=True) | Q(capacity_wh__gt=0),
                name="%(app_label)s_%(class)s_capacity_positive",
            ),
            models.CheckConstraint(
                condition=Q(emission_factor__isnull=True) | Q(emission_factor__gte=0),
                name="%(app_label)s_%(class)s_emission_factor_gte_0",
            ),
            models.CheckConstraint(
                condition=~Q(parent=F("id")), name="%(app_label)s_%(class)s_not_own_parent"
            ),
            models.CheckConstraint(
                condition=Q(technology__in=Technology.values),
                name="%(app_label)s_%(class)s_technology_valid",
            ),
            models.CheckConstraint(
                condition=Q(country="") | Q(country__regex=r"^[A-Z]{2}$"),
                name="%(app_label)s_%(class)s_country_alpha2",
            ),
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True)
                | Q(latitude__gte=-90, latitude__lte=90, longitude__gte=-180, longitude__lte=180),
                name="%(app_label)s_%(class)s_coordinates_on_earth",
            ),
            models.CheckConstraint(
                condition=Q(attribution_count__gte=0, daily_count__gte=0)
                & Q(rec_number__gte=0, without_rec_number__gte=0, new_number__gte=0)
                & Q(rec_sum__gte=0)
                & Q(attribution_count=F("rec_number") + F("without_rec_number") + F("new_number")),
                name="%(app_label)s_%(class)s_counters_partition",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.external_id})"

    # Deeper than any real hierarchy (site > gateway > inverter > meter); a walk up
    # that goes on longer has met a cycle the database let through (SQLite).
    MAX_DEPTH = 64

    def has_history(self) -> bool:
        """Whether readings or attributions were recorded for it: its type is then fixed,
        since the hourly step reads it for the sign of the energy."""
        if self.pk is None:
            return False
        return self.readings.exists() or self.attributions.exists()

    def clean(self) -> None:
        """What every save path checks (the admin's forms call it; on PostgreSQL the
        trigger of migration 0013 refuses the same); raises ValidationError."""
        super().clean()
        if self.type in GENERATING and self.capacity_wh is None:
            raise ValidationError(
                {"capacity_wh": "a generation source needs a capacity: its hours are bounded by it"}
            )
        self.country = (self.country or "").strip().upper()
        if self.country and not is_country(self.country):
            raise ValidationError({"country": f"{self.country!r} is no ISO 3166-1 alpha-2 code"})
        if (self.latitude is None) != (self.longitude is None):
            raise ValidationError({"longitude": "give both latitude and longitude, or neither"})
        if self.commissioned and self.commissioned > dt.datetime.now(dt.UTC).date():
            raise ValidationError({"commissioned": "the commissioning date is in the future"})
        if self.parent_id is not None:
            self._clean_parent()
        if self.pk is not None:
            stored = Source.objects.filter(pk=self.pk).values_list("type", flat=True).first()
            if stored is not None and stored != self.type and self.has_history():
                raise ValidationError(
                    {"type": f"the type is {stored} for good: the source has readings"}
                )

    def _clean_parent(self) -> None:
        parent = Source.objects.filter(pk=self.parent_id).first()
        if parent is None:
            return  # the form's own field check names it
        if parent.customer_id != self.customer_id:
            raise ValidationError({"parent": "the parent must belong to the same customer"})
        node, steps = parent, 0
        while node is not None:
            if node.pk == self.pk or steps > self.MAX_DEPTH:
                raise ValidationError({"parent": "a source cannot be its own ancestor"})
            node = Source.objects.filter(pk=node.parent_id).first() if node.parent_id else None
            steps += 1


class Quality(models.TextChoices):
    """An hour's plausibility: a quarantined hour is held out of issuance until an
    operator releases it (it then flows on) or rejects it (never in a REC)."""

    QUARANTINED = "quarantined"
    RELEASED = "released"
    REJECTED = "rejected"


class Attribution(models.Model):
    """An energy transaction: the energy of one source over one UTC hour.

    Which REC holds it is the REC app's to say (``energy.certificates``): issuance
    writes its own narrow rows instead of rewriting a million wide ones, and no
    index here covers a column that issuance or anchoring change.
    """

    # No single-column FK indexes here: composite indexes below lead with each
    # of them, and every extra index is written on every state move.
    source = models.ForeignKey(
        Source, on_delete=models.PROTECT, related_name="attributions", db_index=False
    )
    # 1-based position among the source's attributions, in time order: a page is a
    # range of it, whatever its depth; a REC holds runs of it.
    seq = models.BigIntegerField(editable=False)
    external_id = models.CharField(max_length=128)
    effective_time = models.DateTimeField()
    value = models.BigIntegerField(help_text="mWh; negative is net consumption")
    state = models.CharField(max_length=10, choices=State.choices, default=State.NEW)
    state_changed = models.DateTimeField(null=True, blank=True)
    hash = models.CharField(max_length=64, null=True, blank=True)
    height = models.BigIntegerField(null=True, blank=True)
    block_id = models.CharField(max_length=66, null=True, blank=True)
    carbon_offset = models.BigIntegerField(null=True, blank=True, help_text="mg CO2")
    # None: plausible. Set by the hourly step, moved on by an operator's decision.
    quality = models.CharField(max_length=12, choices=Quality.choices, null=True, blank=True)
    # A database default too: bulk loaders (COPY) that do not name it stay valid.
    quality_reason = models.CharField(max_length=300, blank=True, default="", db_default="")
    # keccak-256 over the digests of the signed reports whose samples bound the
    # hour (``energy.evidence``), in time order: the leaf commits to it, so a proof
    # of the transaction leads to what the meter signed. None where a bounding
    # report is unsigned (consumption) or predates stored signed text.
    evidence = models.BinaryField(max_length=32, null=True, blank=True, editable=False)
    # The ledger block whose Merkle tree holds this attribution's hash.
    ledger_block = models.ForeignKey(
        "chain.LedgerBlock",
        on_delete=models.PROTECT,
        # Checked per statement by triggers, not per row by a foreign key: see
        # core.ledger_guard.references.
        db_constraint=False,
        null=True,
        blank=True,
        related_name="attributions",
        db_index=False,
    )
    created = models.DateTimeField(auto_now_add=True)
    modified = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"],
                name="%(app_label)s_%(class)s_external_id_unique_per_source",
            ),
            # Serves /attributions/{deviceId}: a page is a range of seq.
            models.UniqueConstraint(
                fields=["source", "seq"], name="%(app_label)s_%(class)s_seq_unique_per_source"
            ),
            models.UniqueConstraint(
                fields=["source", "effective_time"],
                name="%(app_label)s_%(class)s_one_per_hour",
            ),
            models.CheckConstraint(
                condition=Q(state__in=STATES), name="%(app_label)s_%(class)s_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(effective_time=Trunc("effective_time", "hour")),
                name="%(app_label)s_%(class)s_effective_time_on_the_hour",
            ),
            models.CheckConstraint(
                # "remainder" is the block_id of REC service transactions, never a metered one's.
                condition=Q(seq__gte=1) & (Q(block_id__isnull=True) | ~Q(block_id="remainder")),
                name="%(app_label)s_%(class)s_metered",
            ),
            models.CheckConstraint(
                condition=Q(hash__isnull=True) | Q(hash__regex=SHA256_HEX),
                name="%(app_label)s_%(class)s_hash_hex",
            ),
            models.CheckConstraint(
                condition=Q(quality__isnull=True) | Q(quality__in=Quality.values),
                name="%(app_label)s_%(class)s_quality_valid",
            ),
            models.CheckConstraint(
                condition=Q(state="New")
                | Q(state="Pending", hash__isnull=False)
                | Q(
                    state="Processed",
                    hash__isnull=False,
                    height__isnull=False,
                    block_id__isnull=False,
                ),
                name="%(app_label)s_%(class)s_anchored_when_processed",
            ),
        ]
        # No index names a column that anchoring writes (hash, ledger block, state,
        # height, chain block), not even in its condition: marking a block's rows
        # then rewrites each in its own page (a HOT update, which PostgreSQL allows
        # only when no indexed column changes and the page has room: migration 0027
        # leaves room), and writes no index at all. Sealing finds its rows in
        # ``Unsealed``, and a block's rows are found by the ids it seals.
        indexes = [
            # Serves the quarantine queue (the operators' pipeline page, /metrics): the
            # held hours only, a handful among millions.
            models.Index(
                fields=["effective_time", "id"],
                name="energy_attr_quarantined",
                condition=Q(quality="quarantined"),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} @ {self.effective_time:%Y-%m-%d %H:%M}"

    @cached_property
    def held(self):
        """Its place in a REC (``energy.certificates.Held``), or None; readers of many
        rows set it for all of them at once (``certificates.attach``)."""
        from energy import certificates

        certificates.attach([self])
        return self.__dict__["held"]

    @property
    def rec(self):
        return held.rec if (held := self.held) else None

    @property
    def remainder(self) -> int:
        return held.remainder if (held := self.held) else 0

    @property
    def remainder_if_any(self) -> int | None:
        return self.remainder or None

    @property
    def plausibility(self) -> dict | None:
        """The wire's ``quality`` key: absent for a plausible hour."""
        if self.quality is None:
            return None
        return {"state": self.quality, "reason": self.quality_reason}

    @property
    def last_modified(self) -> dt.datetime:
        """Joining a REC is a change of the transaction, though its row stays as it was."""
        held = self.held
        return max(self.modified, held.since) if held else self.modified


class Unsealed(models.Model):
    """Generation waiting for a ledger block: one narrow row per attribution of value
    >= 0 from its append (``energy.transitions.attributions_appended``) until a block
    seals it (``energy.ledger``), read oldest first.

    The queue keeps sealing's index off the wide attribution table, whose rows
    anchoring then rewrites in place. ``verify_ledger`` checks that every
    generation row is either here or in a block, never both.
    """

    # Attributions are never deleted (their append-only guard); this table is energy's.
    attribution = models.OneToOneField(
        Attribution,
        primary_key=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_constraint=False,
    )
    effective_time = models.DateTimeField()
    # The inserting transaction's id (txid_current(); 0 on SQLite, whose sealing reads
    # the queue from its head): what lets sealing find a late row committed since it
    # last looked (``SealingCursor``).
    xid = models.BigIntegerField()

    class Meta:
        indexes = [
            # Serves sealing: the oldest waiting generation first, from the cursor on.
            models.Index(fields=["effective_time", "attribution"], name="energy_unsealed_oldest"),
            # Serves sealing: rows committed since its last look, of which the late ones
            # (older than the cursor) move it back.
            models.Index(fields=["xid", "attribution"], name="energy_unsealed_recent"),
        ]

    def __str__(self) -> str:
        return f"attribution {self.attribution_id} waiting to be sealed"


class SealingCursor(models.Model):
    """Where sealing's next look at the queue starts, on PostgreSQL: one row.

    Sealing deletes the rows it takes, and their index entries stay until a vacuum:
    an index scan from the queue's head would walk every row sealed since (171 ms
    a block with 6M of 10M sealed, 7 ms from the cursor). Invariant: every waiting
    row inserted by a transaction below ``xid_horizon`` comes after (``after_time``,
    ``after_id``); a row committed later is found by ``Unsealed.xid``, and a late
    one (an hour older than the cursor) moves the cursor back to it.
    ``verify_ledger`` names a row the invariant misses.
    """

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    after_time = models.DateTimeField()
    after_id = models.BigIntegerField()
    # The oldest transaction still running when sealing last looked
    # (pg_snapshot_xmin): every one before it had committed or aborted.
    xid_horizon = models.BigIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(id=1), name="%(app_label)s_%(class)s_one"),
        ]

    def __str__(self) -> str:
        return f"sealing looks past attribution {self.after_id} ({self.after_time:%Y-%m-%d %H:%M})"


class DailyAggregate(models.Model):
    """One row per (source, UTC day, state, REC) of the source's metered attributions.

    Derived, not history: ``energy.daily.daily_refresh`` rewrites the rows
    from a day onwards whenever attributions of that day change, so reading
    ``/daily`` never aggregates the attributions themselves.
    """

    # No index of its own: the unique (source, seq) leads with it; the daily rows of
    # every touched day are written again, and each index with them. Checked per
    # statement by triggers, not per row by a foreign key: core.ledger_guard.owned_by.
    source = models.ForeignKey(
        Source,
        on_delete=models.CASCADE,
        related_name="daily_rows",
        db_index=False,
        db_constraint=False,
    )
    # 1-based position in the source's daily list, oldest first.
    seq = models.BigIntegerField()
    day = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices)
    # The REC holding the row's transactions (the REC app's id: energy knows no REC).
    rec_id = models.BigIntegerField(null=True, blank=True)
    number = models.BigIntegerField()
    value = models.BigIntegerField(help_text="mWh")

    class Meta:
        constraints = [
            # Serves /attributions/{deviceId}/daily: a page is a range of seq.
            models.UniqueConstraint(
                fields=["source", "seq"], name="%(app_label)s_%(class)s_seq_unique_per_source"
            ),
            # Serves the refresh, which deletes the rows from a day onwards.
            models.UniqueConstraint(
                fields=["source", "day", "state"],
                condition=Q(rec_id__isnull=True),
                name="%(app_label)s_%(class)s_one_unlinked_row",
            ),
            models.UniqueConstraint(
                fields=["source", "day", "state", "rec_id"],
                condition=Q(rec_id__isnull=False),
                name="%(app_label)s_%(class)s_one_row_per_rec",
            ),
            models.CheckConstraint(
                condition=Q(state__in=STATES), name="%(app_label)s_%(class)s_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(number__gt=0, seq__gt=0), name="%(app_label)s_%(class)s_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.state}: {self.number}"

    @property
    def day_start(self) -> dt.datetime:
        return dt.datetime.combine(self.day, dt.time(), tzinfo=dt.UTC)


class Report(models.Model):
    """One accepted push call: the audit record the readings point back to."""

    class Method(models.TextChoices):
        POGG = "tx_reportMinerPoGG"
        CONSUME = "edr_reportConsumeData"

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="reports")
    method = models.CharField(max_length=32, choices=Method.choices)
    received = models.DateTimeField()
    # Several calls arrive in one HTTP request (a batch); this ties them together.
    request_id = models.UUIDField()
    # The miner's base58 signature over the report, kept so it can be re-verified.
    signature = models.CharField(max_length=100, blank=True)
    # The exact text the signature covers (the compact JSON of version, address and
    # dataList): with it anyone can recover the signer again, trusting nobody.
    signed = models.TextField(blank=True, default="", db_default="")
    # keccak-256 of ``signed``: the very hash the device signed. The hours this
    # report bounds commit to it (``Attribution.evidence``). Empty for unsigned
    # (consumption) reports and for reports stored before digests were kept.
    digest = models.BinaryField(max_length=32, null=True, blank=True, editable=False)
    samples = models.IntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(samples__gt=0), name="%(app_label)s_%(class)s_samples_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.method} from {self.source_id} at {self.received:%Y-%m-%d %H:%M:%S}"


class Reading(models.Model):
    """One sample as a device reported it: the raw, append-only audit trail."""

    source = models.ForeignKey(Source, on_delete=models.PROTECT, related_name="readings")
    report = models.ForeignKey(Report, on_delete=models.PROTECT, related_name="readings")
    sample_time = models.DateTimeField()
    power = models.BigIntegerField(help_text="mW")
    energy = models.BigIntegerField(help_text="cumulative mWh")

    class Meta:
        constraints = [
            # Serves the hourly step (a source's readings from a time on, in
            # order) and the replay check (a source's reading at a time).
            models.UniqueConstraint(
                fields=["source", "sample_time"],
                name="%(app_label)s_%(class)s_one_sample_per_time",
            ),
            models.CheckConstraint(
                condition=Q(power__gte=0, energy__gte=0),
                name="%(app_label)s_%(class)s_non_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source_id} {self.sample_time:%Y-%m-%d %H:%M:%S}: {self.energy} mWh"
