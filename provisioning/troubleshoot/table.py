"""Render rows as an aligned text table or as CSV."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from typing import Any


def cell(value: Any) -> str:
    """One value as table text: floats with one decimal (``-`` for NaN), None as ``-``, newlines shown as ``⏎``."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if math.isnan(value) else f"{value:.1f}"
    return str(value).replace("\r\n", "⏎").replace("\n", "⏎")


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``…`` when cut."""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                 max_widths: Mapping[str, int] | None = None) -> str:
    """An aligned table: numbers right-aligned, text left-aligned, each column as wide as its widest cell.

    Args:
        headers: column titles.
        rows: one sequence of values per row, in the headers' order.
        max_widths: optional width caps by header; longer cells are clipped with ``…``.
    """
    caps = max_widths or {}
    texts = [[clip(cell(v), caps.get(h, 10**6)) for h, v in zip(headers, row, strict=True)] for row in rows]
    numeric = [bool(rows) and all(isinstance(row[i], int | float) or row[i] is None for row in rows)
               for i in range(len(headers))]
    widths = [max([len(h)] + [len(r[i]) for r in texts]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers))] + [line(r) for r in texts])


def to_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Rows as CSV with a header line; floats keep three decimals, NaN and None become empty cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow(["" if v is None or (isinstance(v, float) and math.isnan(v))
                         else f"{v:.3f}" if isinstance(v, float) else v for v in row])
    return out.getvalue()
