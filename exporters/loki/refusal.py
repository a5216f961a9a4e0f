"""Why Loki refused (part of) a push: its 400 answer, parsed into the reason names Loki's own metrics use.

Loki's distributor validates stream by stream and entry by entry, keeps what is valid, and answers 400 with the
last error once the valid part is stored (``pkg/distributor``: Push collects ``validationErr`` and returns it after
sending the rest); its ingester does the same for out-of-order entries ("total ignored: N out of M"). So a 400
that names one of these reasons means the other entries arrived: resending them would duplicate them (or, on
Loki < 2.4, be refused as out of order). Any other 400 refused the whole request.
"""

from __future__ import annotations

import re

# Loki's discard reasons (pkg/util/validation), found by the messages it answers with.
_REASONS = (
    ("line_too_long", re.compile(r"Max entry size '\d+' bytes exceeded|max line size", re.I)),
    ("greater_than_max_sample_age", re.compile(r"timestamp too old")),
    ("too_far_in_future", re.compile(r"timestamp too new")),
    ("max_label_names_per_series", re.compile(r"has \d+ label names; limit \d+")),
    ("label_name_too_long", re.compile(r"label name too long")),
    ("label_value_too_long", re.compile(r"label value too long")),
    ("duplicate_label_names", re.compile(r"duplicate label name")),
    ("invalid_labels", re.compile(r"Error parsing labels|error parsing labels")),
    ("out_of_order", re.compile(r"out of order|too far behind")),
)
_IGNORED = re.compile(r"total ignored: (\d+) out of \d+")


def reason(answer: str) -> str:
    """Loki's reason for a 400 answer (``bad_request`` when it names none we know)."""
    for name, pattern in _REASONS:
        if pattern.search(answer):
            return name
    return "bad_request"


def kept_the_rest(answer: str) -> bool:
    """Whether Loki stored the valid entries of the push it answered 400 to (an entry-level reason)."""
    return reason(answer) != "bad_request"


def refused_count(answer: str, batch_size: int) -> dict[str, int]:
    """How many entries of a ``batch_size`` push Loki refused, by reason, as far as its answer tells.

    The ingester's out-of-order answer counts them ("total ignored: N"); each other error line names one
    refused entry or stream (Loki 2.2.1 names only the last, so this is a lower bound there).
    """
    ignored = _IGNORED.search(answer)
    if ignored:  # the ingester's answer: one message over two lines, with the count
        return {"out_of_order": min(int(ignored.group(1)), batch_size)}
    counts: dict[str, int] = {}
    for line in filter(None, (part.strip() for part in answer.splitlines())):
        name = reason(line)
        counts[name] = counts.get(name, 0) + 1
    total = sum(counts.values())
    if total > batch_size:  # never more than were sent
        counts = {name: max(1, n * batch_size // total) for name, n in counts.items()}
    return counts or {"bad_request": min(1, batch_size)}
