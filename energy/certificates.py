"""Which REC holds a transaction: asked by energy's readers, answered by recs.

Energy knows no REC. The app that issues them registers a ``Holder`` from its
``AppConfig.ready`` (recs does), as apps register leaf kinds with chain; with
none registered every transaction is in no REC.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Held:
    """A transaction's place in a REC: the REC (as the REC app's object), the mWh it
    carries on to the next REC, and when it was put there."""

    rec: Any
    remainder: int
    since: dt.datetime


class Holder(Protocol):
    def held(self, rows: list) -> dict[int, Held]:
        """By attribution id, where each of ``rows`` (one source's attributions) is held."""

    def recs_by_id(self, ids: Iterable[int]) -> dict[int, Any]:
        """The RECs of these ids."""

    def rec_id_sql(self, alias: str) -> str:
        """SQL: the id of the REC holding the attribution row ``alias``, or NULL."""

    def spans_sql(self, source: str, low: str, high: str) -> str:
        """SQL: (rec_id, seq_first, seq_last) rows, among them every run of the
        ``source``'s sequence held by a REC that meets ``low``..``high`` (SQL
        expressions); a row of positive value in such a run is in its REC."""


_holder: Holder | None = None


def register(holder: Holder) -> None:
    global _holder
    _holder = holder


def attach(rows: list) -> None:
    """Give each row its ``held`` place (None: in no REC) in one lookup per source."""
    by_source: dict[int, list] = {}
    for row in rows:
        by_source.setdefault(row.source_id, []).append(row)
    for group in by_source.values():
        found = _holder.held(group) if _holder else {}
        for row in group:
            row.held = found.get(row.pk)


def recs_by_id(ids: Iterable[int]) -> dict[int, Any]:
    ids = {pk for pk in ids if pk is not None}
    return _holder.recs_by_id(ids) if _holder and ids else {}


def rec_id_sql(alias: str) -> str:
    return _holder.rec_id_sql(alias) if _holder else "NULL"


def spans_sql(source: str, low: str, high: str) -> str:
    if _holder is None:
        return "SELECT NULL::bigint AS rec_id, 0::bigint AS seq_first, -1::bigint AS seq_last"
    return _holder.spans_sql(source, low, high)
