import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from energy.models import Customer, Source, Technology
from energy.selectors import source_find
from energy.services import source_create


def _positive_int(text: str) -> int:
    if not text.isdigit():
        raise CommandError(f"--capacity-wh must be a positive integer, not {text!r}")
    return int(text)


class Command(BaseCommand):
    help = "Create a source (device); prints it as one JSON object on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--customer", required=True, help="customer name")
        parser.add_argument("--external-id", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--type", default=Source.Type.SOLAR, choices=Source.Type.values)
        parser.add_argument(
            "--node-type", default=Source.NodeType.METER, choices=Source.NodeType.values
        )
        parser.add_argument("--parent", help="the parent's internal id or external id")
        parser.add_argument("--capacity-wh", type=str)
        parser.add_argument("--location", default="")
        parser.add_argument("--miner-address")
        parser.add_argument("--emission-factor", help="tCO2 per MWh")
        parser.add_argument(
            "--commissioned", help="YYYY-MM-DD: no sample dated before it is accepted"
        )
        parser.add_argument("--technology", default=Technology.OTHER, choices=Technology.values)
        parser.add_argument("--country", default="", help="ISO 3166-1 alpha-2, e.g. US")
        parser.add_argument("--latitude")
        parser.add_argument("--longitude")

    def handle(self, *args, **options) -> None:
        try:
            customer = Customer.objects.get(name=options["customer"])
        except Customer.DoesNotExist:
            raise CommandError(f"unknown customer {options['customer']!r}") from None
        parent = None
        if options["parent"]:
            parent = self._parent(customer, options["parent"])
        capacity = options["capacity_wh"]
        try:
            source = source_create(
                customer=customer,
                external_id=options["external_id"],
                name=options["name"],
                type=options["type"],
                node_type=options["node_type"],
                parent=parent,
                capacity_wh=_positive_int(capacity) if capacity is not None else None,
                location=options["location"],
                miner_address=options["miner_address"],
                emission_factor=options["emission_factor"],
                commissioned=options["commissioned"],
                technology=options["technology"],
                country=options["country"],
                latitude=options["latitude"],
                longitude=options["longitude"],
            )
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(
            json.dumps(
                {
                    "id": source.pk,
                    "external_id": source.external_id,
                    "client_id": source.client_id,
                    "customer": customer.name,
                    "name": source.name,
                    "type": source.type,
                    "node_type": source.node_type,
                    "parent": parent.pk if parent else None,
                    "miner_address": source.miner_address,
                }
            )
        )

    @staticmethod
    def _parent(customer: Customer, ref: str) -> Source:
        try:
            return source_find(customer=customer, device_id=ref)
        except Source.DoesNotExist:
            raise CommandError(f"unknown parent {ref!r} for {customer.name}") from None
