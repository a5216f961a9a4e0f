"""How many lines each stream has in [start, end), by Loki's count_over_time: the check against gaps.

Loki 2.2's range selection at evaluation time T with range d is the open interval (T-d, T), at ns precision
(checked against the stack's Loki). [s, e) is therefore (s-1ms, e) minus (s-1ms, s): two instant queries,
each one vector of every stream of the selector. s and e must be whole milliseconds. Never sum(): Loki 2.2
merges samples of different streams that share a timestamp and a line, and undercounts.
"""

from __future__ import annotations

from provisioning.archive.layout import canonical_labels
from provisioning.lokiquery import LokiReader

MS = 1_000_000


def _vector(reader: LokiReader, selector: str, at_ns: int, range_ms: int) -> dict[str, int]:
    result = reader.instant(f"count_over_time({selector}[{range_ms}ms])", at_ns)
    return {canonical_labels(sample["metric"]): int(float(sample["value"][1])) for sample in result}


def stream_counts(reader: LokiReader, selector: str, start_ns: int, end_ns: int) -> dict[str, int]:
    """Lines per stream (keyed by canonical labels) in [start_ns, end_ns); streams with none are absent."""
    if start_ns % MS or end_ns % MS:
        raise ValueError("count ranges must start and end on whole milliseconds")
    wide = _vector(reader, selector, end_ns, (end_ns - start_ns) // MS + 1)
    before = _vector(reader, selector, start_ns, 1)
    counts = {key: total - before.get(key, 0) for key, total in wide.items()}
    return {key: n for key, n in counts.items() if n > 0}
