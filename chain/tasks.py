from celery import shared_task

from chain.services import anchoring_round
from chain.token_events import token_events_index
from chain.transactions import transactions_confirm, transactions_send


@shared_task(acks_late=True)
def anchor_ledger() -> dict[str, int]:
    """Seal, send and confirm; every step is idempotent, so overlapping runs are safe."""
    return anchoring_round()


@shared_task(acks_late=True)
def index_token_events() -> int:
    """Record the RecToken contract's final events (none when no contract is set)."""
    total = 0
    while done := token_events_index():
        total += done
    return total


@shared_task(acks_late=True)
def send_transactions() -> dict[str, int]:
    """Send the apps' queued contract calls (mints) and settle the sent ones."""
    return {"sent": transactions_send(), "confirmed": transactions_confirm()}
