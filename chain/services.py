"""The anchoring stages, in order: sealing, sending, confirming (a module each)."""

from chain.confirming import block_confirm, blocks_confirm
from chain.sealing import blocks_seal
from chain.sending import blocks_send

__all__ = ["anchoring_round", "block_confirm", "blocks_confirm", "blocks_seal", "blocks_send"]


def anchoring_round() -> dict[str, int]:
    """Seal everything waiting, send what is sealed, confirm what is deep enough."""
    sealed = 0
    while done := blocks_seal():
        sealed += done
    return {"sealed": sealed, "sent": blocks_send(), "confirmed": blocks_confirm()}
