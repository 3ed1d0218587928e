from django.core.management.base import BaseCommand, CommandError

from chain import client


class Command(BaseCommand):
    help = "Deploy the Anchor contract from CHAIN_PRIVATE_KEY's account; prints its address last."

    def handle(self, *args, **options) -> None:
        w3 = client.web3()
        try:
            address = client.deploy_anchor(w3)
        except Exception as error:  # the node's refusal, unreachable node, no funds
            raise CommandError(f"deploying failed: {error}") from None
        self.stdout.write(
            f"Anchor deployed on chain {w3.eth.chain_id} by {client.engine_account().address}"
        )
        self.stdout.write("Set ANCHOR_CONTRACT_ADDRESS to:")
        self.stdout.write(address)
