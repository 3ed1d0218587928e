from django.apps import AppConfig


class RecsConfig(AppConfig):
    name = "recs"
    verbose_name = "RECs"

    def ready(self) -> None:
        from chain import leaves
        from recs.ledger import RecLeaves

        leaves.register(RecLeaves())
