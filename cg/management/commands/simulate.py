"""A demo: a solar site with meters and a consumer, N days of signed reports, the pipeline."""

import datetime as dt
import json
import math
import random
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Sum
from django.test import Client
from eth_keys import KeyAPI
from eth_utils import keccak

from cg.pipeline import run_until_idle
from energy.ingestion import Push, Sample, pogg_sign, pushes_store
from energy.models import Customer, Report, Source
from energy.services import customer_create, source_create
from recs.accounts import account_open
from recs.models import Bundle, Rec, Retirement
from recs.retirements import retirement_create
from recs.transfers import transfer_answer, transfer_create

DEMO_CUSTOMER = "Demo Energy"
# The second customer of the demo: it buys RECs and retires some for a beneficiary.
BUYER = "Acme Bakery Co-op"
BENEFICIARY = "Acme Bakery Ltd"
BOUGHT = 10
# (external id, name, capacity W): the big array makes hours of more than 1 MWh.
METERS = [
    ("sunny-hill-array-a", "Sunny Hill - Array A", 5_000_000),
    ("sunny-hill-array-b", "Sunny Hill - Array B", 800_000),
    ("sunny-hill-rooftop", "Sunny Hill - Rooftop", 60_000),
]
CONSUMER = ("sunny-hill-load", "Sunny Hill - Site load", 400_000)
STEP = dt.timedelta(minutes=5)


def miner_key(external_id: str) -> bytes:
    """The demo miner's key, derived from its name so later runs can sign again."""
    return keccak(b"cg demo miner " + external_id.encode())


class Command(BaseCommand):
    help = (
        "Create a demo customer with a solar site, meters and a consumer, push N days of "
        "signed reports through JSON-RPC, and run the pipeline."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--days", type=int, default=7)
        parser.add_argument("--seed", type=int, default=1)

    def handle(self, *args, days: int, seed: int, **options) -> None:
        if not 1 <= days <= 366:
            raise CommandError("--days must be between 1 and 366")
        rng = random.Random(seed)
        customer, token = self._customer()
        meters, consumer = self._sources(customer)
        end = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0)
        start = end - dt.timedelta(days=days)
        weather = [rng.choice([1.0, 1.0, 0.95, 0.6, 0.3]) for _ in range(days + 1)]
        client = Client()
        for number, (source, capacity) in enumerate(meters, start=1):
            self.stdout.write(f"[{number}/{len(meters) + 1}] {source.name}: ", ending="")
            self._push_generation(client, source, capacity, start, end, weather, rng)
        self.stdout.write(f"[{len(meters) + 1}/{len(meters) + 1}] {consumer.name}: ", ending="")
        self._backfill_consumption(consumer, start, end, rng)

        def progress(name: str, done: int) -> None:
            self.stdout.write(f"  {name}: {done}")

        self.stdout.write("running the pipeline")
        run_until_idle(progress)
        customer.refresh_from_db()
        recs = Rec.objects.filter(customer=customer).count()
        self.stdout.write(f"demo ready: {recs} RECs for {DEMO_CUSTOMER}")
        self._buyer_retires(customer, meters[0][0], start.date(), end.date())
        run_until_idle(progress)  # the retirement's hash, anchored after its RECs
        if token:
            self.stdout.write("API token of the demo customer, shown only now:")
            self.stdout.write(token)

    def _buyer_retires(self, seller: Customer, source: Source, first: dt.date, last: dt.date):
        """A second customer buys RECs of the big array from the demo customer (a transfer
        it accepts) and retires some of them for a named beneficiary: the statement."""
        buyer = Customer.objects.filter(name=BUYER).first()
        if buyer is None:
            buyer, buyer_token = customer_create(name=BUYER)
            held = Bundle.objects.filter(
                account__customer=seller, source=source, status=Bundle.Status.ACTIVE
            ).aggregate(n=Sum("quantity"))["n"]
            if not held:
                self.stdout.write("no RECs to sell yet: no retirement in this demo")
                return
            bought = min(BOUGHT, held)
            sent = transfer_create(
                customer=seller, to=account_open(customer=buyer).code, quantity=bought,
                source_id=source.pk,
            )  # fmt: skip
            transfer_answer(customer=buyer, transfer=sent, answer="accept")
            retirement_create(
                customer=buyer, beneficiary=BENEFICIARY, purpose="Scope 2, market-based",
                country="ES", period_start=first, period_end=last,
                quantity=max(1, bought // 2), source_id=source.pk,
            )  # fmt: skip
            self.stdout.write(f"buyer token: {buyer_token}")
        retirement = Retirement.objects.filter(account__customer=buyer).order_by("pk").first()
        if retirement is not None:
            self.stdout.write(
                f"{BUYER} bought RECs and retired {retirement.quantity} for "
                f"{retirement.beneficiary}: statement /statements/{retirement.statement}"
            )

    def _customer(self) -> tuple[Customer, str | None]:
        existing = Customer.objects.filter(name=DEMO_CUSTOMER).first()
        if existing:
            return existing, None
        return customer_create(name=DEMO_CUSTOMER)

    def _sources(self, customer: Customer):
        site = Source.objects.filter(customer=customer, external_id="sunny-hill").first()
        site = site or source_create(
            customer=customer,
            external_id="sunny-hill",
            name="Sunny Hill Site",
            type="site",
            node_type="site",
            location="ES/Andalusia/Sevilla",
        )
        meters = []
        for external_id, name, capacity in METERS:
            source = Source.objects.filter(customer=customer, external_id=external_id).first()
            address = KeyAPI().PrivateKey(miner_key(external_id)).public_key.to_address()
            source = source or source_create(
                customer=customer,
                external_id=external_id,
                name=name,
                parent=site,
                capacity_wh=capacity,
                location=site.location,
                miner_address=address,
                emission_factor="0.4",
            )
            meters.append((source, capacity))
        external_id, name, _ = CONSUMER
        consumer = Source.objects.filter(customer=customer, external_id=external_id).first()
        consumer = consumer or source_create(
            customer=customer,
            external_id=external_id,
            name=name,
            type="consumer",
            parent=site,
        )
        return meters, consumer

    def _push_generation(self, client, source, capacity, start, end, weather, rng) -> None:
        """Hourly tx_reportMinerPoGG reports of 12 five-minute samples, signed, over JSON-RPC."""
        address = KeyAPI().PrivateKey(miner_key(source.external_id)).public_key
        address = address.to_checksum_address()
        when = max(start, source.last_sample_time or start)
        energy = source.last_energy or 0
        if source.last_sample_time is None:
            self._post(client, source, address, [(when, 0, 0)])  # a first report: 0/0
        calls, sent = [], 0
        while when + STEP <= end:
            samples = []
            for _ in range(12):
                when += STEP
                hour = when.hour + when.minute / 60
                sun = max(0.0, math.sin(math.pi * (hour - 6) / 13))
                cloud = weather[(when - start).days] * (0.85 + 0.15 * rng.random())
                power = int(capacity * 1000 * sun * cloud)  # mW
                energy += power * 5 // 60  # mWh in five minutes
                samples.append((when, power, energy))
            calls.append(self._report(source, address, samples))
            if len(calls) == 100:
                sent += self._send(client, calls)
                calls = []
        sent += self._send(client, calls)
        self.stdout.write(f"{sent} signed reports")

    def _report(self, source, address: str, samples) -> dict:
        data = [f"01{int(t.timestamp()):010x}{p:012x}{e:016x}" for t, p, e in samples]
        params = {
            "version": 1,
            "address": address,
            "dataList": data,
            "signature": pogg_sign(miner_key(source.external_id), 1, address, data),
        }
        return {"jsonrpc": "2.0", "id": 1, "method": "tx_reportMinerPoGG", "params": params}

    def _post(self, client, source, address, samples) -> None:
        self._send(client, [self._report(source, address, samples)])

    def _send(self, client, calls: list[dict]) -> int:
        if not calls:
            return 0
        response = client.post("/v1", json.dumps(calls), content_type="application/json")
        refused = [a for a in response.json() if "error" in a]
        if refused:
            raise CommandError(f"the engine refused a demo report: {refused[0]['error']}")
        return len(calls)

    def _backfill_consumption(self, consumer, start, end, rng) -> None:
        """Past consumption through the store behind edr_reportConsumeData.

        That method stamps each sample with the time it arrives, so history
        cannot be sent over it; the same checks and log take these samples.
        """
        when = max(start, consumer.last_sample_time or start)
        energy = consumer.last_energy or 0
        samples = []
        while when + dt.timedelta(minutes=15) <= end:
            when += dt.timedelta(minutes=15)
            base = 0.35 + 0.25 * (8 <= when.hour < 20)
            energy += int(CONSUMER[2] * 1000 * base * (0.8 + 0.4 * rng.random())) // 4
            samples.append(Sample(when, 0, energy))
        for i in range(0, len(samples), 500):
            push = Push(
                method=Report.Method.CONSUME,
                samples=samples[i : i + 500],
                refuse=(4003, "Invalid energy data"),
                client_id=consumer.client_id,
                customer_id=consumer.customer_id,
            )
            [error] = pushes_store([push], request_id=uuid.uuid4(), received=end)
            if error is not None:
                raise CommandError(f"the engine refused demo consumption: {error.message}")
        self.stdout.write(f"{len(samples)} consumption samples")
