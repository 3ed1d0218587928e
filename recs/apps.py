from django.apps import AppConfig


class RecsConfig(AppConfig):
    name = "recs"
    verbose_name = "RECs"

    def ready(self) -> None:
        from chain import leaves
        from energy import certificates
        from recs.ledger import RecLeaves
        from recs.selectors import RecHolder

        leaves.register(RecLeaves())
        certificates.register(RecHolder())
