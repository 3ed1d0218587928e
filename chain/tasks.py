from celery import shared_task

from chain.services import anchoring_round


@shared_task(acks_late=True)
def anchor_ledger() -> dict[str, int]:
    """Seal, send and confirm; every step is idempotent, so overlapping runs are safe."""
    return anchoring_round()
