from django.apps import AppConfig


class EnergyConfig(AppConfig):
    name = "energy"
    verbose_name = "Energy"

    def ready(self) -> None:
        from chain import leaves
        from energy.ledger import AttributionLeaves

        leaves.register(AttributionLeaves())
