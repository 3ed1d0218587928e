"""The kinds of leaves chain seals: filled by the apps, so chain knows none of them.

Chain is a notary: it seals the leaves an app hands it into Merkle-rooted,
hash-chained ledger blocks, anchors each root on chain, and tells the app when
a block's transaction is with the node and when it is confirmed. What a leaf
is, which rows are waiting, and how those rows are marked belong to the app
that owns them; each registers a ``LeafKind`` from its ``AppConfig.ready``.
"""

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from django.utils import timezone

from core.sql import update_by_id

if TYPE_CHECKING:
    from chain.models import LedgerBlock


@dataclass(frozen=True)
class Batch:
    """What to seal next: row ids and their leaves, in tree order."""

    ids: list[int]
    leaves: list[bytes]
    # The time of the last row, when the kind's rows are sealed in time order: with
    # the last id it is where the next batch starts while this one is not marked.
    last_time: dt.datetime | None = None


class LeafKind(Protocol):
    name: str  # LedgerBlock.kind

    def take(self, limit: int, after: "LedgerBlock | None") -> Batch | None:
        """At most ``limit`` rows not in a block yet, oldest first, for the block that
        the same transaction makes of them: past ``after`` (the kind's newest block
        whose rows are not marked yet) when there is one, or taken off the kind's
        own queue of waiting rows."""

    def mark_sent(self, blocks: "list[LedgerBlock]") -> None:
        """The blocks' transactions are with the node: their rows get their leaf and
        block. Several blocks at once, so what follows from the rows (energy's daily
        rows) is worked out once for all of them."""

    def mark_confirmed(self, blocks: "list[LedgerBlock]") -> None:
        """The blocks' transactions are confirmed, each in its ``chain_block_number``
        (``chain_block_hash``). A block's rows were marked sent before when
        ``block.rows_marked``; else they get their leaf and block here too."""

    def check(self, block: "LedgerBlock") -> Iterator[tuple[str | None, bytes]]:
        """Each sealed leaf of the block, with what is wrong with its row if anything."""

    def problems(self) -> Iterator[str]:
        """What is wrong with the kind's rows outside any block."""


_KINDS: dict[str, LeafKind] = {}


def register(kind: LeafKind) -> None:
    """Add a kind; kinds are sealed in the order they were registered."""
    _KINDS[kind.name] = kind


def kinds() -> list[LeafKind]:
    return list(_KINDS.values())


def kind(name: str) -> LeafKind:
    return _KINDS[name]


def find(name: str) -> LeafKind | None:
    return _KINDS.get(name)


def by_kind(blocks: "list[LedgerBlock]") -> "dict[str, list[LedgerBlock]]":
    """The blocks grouped by their kind, each group in the given order."""
    groups: dict[str, list[LedgerBlock]] = {}
    for block in blocks:
        groups.setdefault(block.kind, []).append(block)
    return groups


def mark_rows_sent(table: str, blocks: "list[LedgerBlock]", state: str) -> None:
    """For a kind whose rows carry ``hash``, ``ledger_block_id``, ``state`` and
    ``state_changed``: one pass gives each row its leaf and block, and ``state``."""
    now = timezone.now()
    update_by_id(
        table,
        {"hash": "varchar", "ledger_block_id": "bigint"},
        [(pk, leaf.hex(), block.pk) for block in blocks for pk, leaf in block.leaf_list()],
        also={"state": state, "state_changed": now, "modified": now},
    )


def mark_rows_confirmed(model, blocks: "list[LedgerBlock]", **also) -> None:
    """For a kind whose rows carry ``hash``, ``ledger_block_id``, ``state``, ``height``,
    ``state_changed`` and ``modified``: each block's rows become Processed at its chain
    block; ``also`` names more columns to set from the block (column -> block
    attribute). A block whose rows were never marked sent (``rows_marked`` false: it
    was final by the first confirmation pass) gives them their leaf and block in the
    same write, so each of its rows is written once; the others get them again,
    unchanged."""
    now = timezone.now()
    for block in blocks:
        final = {
            "state": "Processed",
            "height": block.chain_block_number,
            "state_changed": now,
            "modified": now,
            **{column: getattr(block, attribute) for column, attribute in also.items()},
        }
        # By the ids the block seals, whether or not its rows were marked sent: no
        # index of a kind's table need name a block.
        update_by_id(
            model._meta.db_table,
            {"hash": "varchar", "ledger_block_id": "bigint"},
            [(pk, leaf.hex(), block.pk) for pk, leaf in block.leaf_list()],
            also=final,
        )


def expected_state(block: "LedgerBlock") -> tuple[str, int | None]:
    """The (state, height) every row sealed into ``block`` must have: New until the
    block's transaction is with the node, Pending until it is confirmed, then
    Processed at the chain block that holds it; rows never move back."""
    from chain.models import LedgerBlock

    if not block.rows_marked:
        return "New", None
    if block.status == LedgerBlock.Status.CONFIRMED:
        return "Processed", block.chain_block_number
    return "Pending", None


def state_problem(row, block: "LedgerBlock", name: str, expected=None) -> str | None:
    """What is wrong with the anchoring state of ``row`` (a leaf's row with ``state``
    and ``height``) sealed into ``block``, or None; ``expected`` is the block's
    ``expected_state``, worked out once by a caller that checks many rows."""
    state, height = expected or expected_state(block)
    if row.state != state:
        where = f"block {block.ledger_height} ({block.status})"
        return f"{name}: {row.state}, but {where} makes it {state}"
    if height is not None and row.height != height:
        return (
            f"{name}: height {row.height}, but block {block.ledger_height} is in chain block "
            f"{height}"
        )
    return None
