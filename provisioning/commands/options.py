"""The flags commands share, defined once (as octoDNS's cmds/args.py): the time range, the output format
(`text` or `json`, some add `csv`), the services; and what they turn into."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

from provisioning import config, timerange
from provisioning.lokiquery import Reader, reader_for


def add_range(parser: argparse.ArgumentParser, default_since: str) -> None:
    group = parser.add_argument_group("time range")
    group.add_argument("--since", help=f"how far back from --to (default {default_since}): 30m, 2h, 7d, 1h30m")
    group.add_argument("--from", dest="start", metavar="TIME",
                       help="start: RFC 3339 (UTC if no offset), a date, epoch seconds, or a time ago like 2h")
    group.add_argument("--to", dest="end", metavar="TIME", help="end (default now), same forms as --from")
    parser.set_defaults(default_since=default_since)


def add_output(parser: argparse.ArgumentParser, choices: tuple[str, ...] = ("text", "json")) -> None:
    """--output/-o: ``text`` (for people, the default) or ``json`` (for scripts), and any extra ``choices``.
    ``table``, the word some commands used before, still means text."""
    parser.add_argument("--output", "-o", choices=choices, default=choices[0],
                        type=lambda value: "text" if value == "table" else value)


def add_services(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--service", "-s", action="append", default=[], metavar="NAME",
                        help="only these services (repeat, or comma-separate)")


def time_range(args: argparse.Namespace, now_ns: int | None = None) -> timerange.TimeRange:
    """The checked range the flags name.

    Raises:
        TimeRangeError: a time is unreadable or the range is empty or reversed.
    """
    now = time.time_ns() if now_ns is None else now_ns
    return timerange.resolve(args.since, args.start, args.end, now, args.default_since)


def reader(args: argparse.Namespace, log_types: Sequence[str] = ()) -> Reader:
    """A reader of the Loki tracklog.yaml (or $TRACKLOG_LOKI_URL) names: the tenant(s) of ``log_types``, or all."""
    return reader_for(config.load(getattr(args, "config", None)), log_types)
