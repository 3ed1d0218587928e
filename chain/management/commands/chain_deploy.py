from django.core.management.base import BaseCommand, CommandError

from chain import client


class Command(BaseCommand):
    help = (
        "Deploy a contract (Anchor, or RecToken with REC_TOKEN_URI) from CHAIN_PRIVATE_KEY's "
        "account; prints its address last."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("contract", nargs="?", default="Anchor", choices=client.CONTRACTS)

    def handle(self, *args, contract: str, **options) -> None:
        w3 = client.web3()
        setting, arguments = client.CONTRACTS[contract]
        try:
            address = client.deploy_contract(w3, contract, *arguments())
        except Exception as error:  # the node's refusal, unreachable node, no funds
            raise CommandError(f"deploying failed: {error}") from None
        self.stdout.write(
            f"{contract} deployed on chain {w3.eth.chain_id} by {client.engine_account().address}"
        )
        self.stdout.write(f"Set {setting} to:")
        self.stdout.write(address)
