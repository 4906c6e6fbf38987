"""Plain-text tables for the terminal, and the Markdown the docs page copies."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], note: str = "") -> str:
    """A Markdown table (readable as is in a terminal) with a title line and an optional note."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    lines = [f"\n### {title}\n"]
    lines.append("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines.extend(
        "| "
        + " | ".join(c.rjust(w) if _numeric(c) else c.ljust(w) for c, w in zip(r, widths, strict=True))
        + " |"
        for r in cells
    )
    if note:
        lines.append(f"\n{note}")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if value >= 0.1 else f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _numeric(text: str) -> bool:
    return re.fullmatch(r"-?[\d,]+(\.\d+)?( \*)?x?|-", text) is not None


def mb(value: float | None) -> float | None:
    return None if value is None else value / 1e6
