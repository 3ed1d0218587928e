"""``page`` / ``per_page`` of the read API, and pages as ranges of a position."""

import re
from dataclasses import dataclass

from django.conf import settings

from core.errors import InvalidParameter

DEFAULT_PER_PAGE = 25
# Bounded so page x per_page stays far inside a 64-bit integer.
MAX_PAGE = 10**12
_DIGITS = re.compile(r"-?[0-9]+")


@dataclass(frozen=True)
class Page:
    number: int  # 0-based
    size: int

    @property
    def offset(self) -> int:
        return self.number * self.size

    def seq_range(self, total: int) -> tuple[int, int] | None:
        """The ``seq`` bounds (inclusive) of this page when listing newest first.

        Rows carry a dense 1-based ``seq`` in ascending order and ``total`` is
        the largest; listing position p (0-based) is seq ``total - p``.
        """
        if self.offset >= total:
            return None
        high = total - self.offset
        return max(high - self.size + 1, 1), high


def _integer(params, name: str, default: int, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw):
        raise InvalidParameter(name, f"{name} must be an integer, not {raw!r}")
    if raw.startswith("-"):
        raise InvalidParameter(name, f"{name} must not be negative")
    value = int(raw) if len(raw) <= 18 else high + 1
    if not low <= value <= high:
        raise InvalidParameter(name, f"{name} must be between {low} and {high}, not {raw}")
    return value


def path_id(text: str) -> int | None:
    """A row id named in a URL path, or None if it cannot be one.

    Bounded before ``int()``: a number of thousands of digits would otherwise
    cost time or hit Python's digit limit, and no id reaches 2^63.
    """
    if not (0 < len(text) <= 19 and text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value < 2**63 else None


def page_from(request) -> Page:
    params = request.query_params
    size = _integer(params, "per_page", DEFAULT_PER_PAGE, 1, settings.API_MAX_PER_PAGE)
    number = _integer(params, "page", 0, 0, MAX_PAGE)
    return Page(number=number, size=size)


def newest_first(rows, total: int, page: Page) -> tuple[int, list]:
    """One page of ``rows`` (numbered by a dense ``seq``) newest first, and their total."""
    bounds = page.seq_range(total)
    if bounds is None:
        return total, []
    return total, list(rows.filter(seq__range=bounds).order_by("-seq"))
