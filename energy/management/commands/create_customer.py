from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from energy.services import customer_create


class Command(BaseCommand):
    help = "Create a customer and an API token; the token is printed alone on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name")

    def handle(self, *args, name: str, **options) -> None:
        try:
            customer, token = customer_create(name=name)
        except ValidationError as error:
            raise CommandError("; ".join(error.messages)) from None
        self.stdout.write(f"Created customer {customer.name} (id {customer.pk}).")
        self.stdout.write("API token, shown only now:")
        self.stdout.write(token)
