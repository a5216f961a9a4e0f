"""Search logs in Loki by service, type, level, error, trace or text; print a table or JSON, or follow live."""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time

from provisioning import logql
from provisioning.commands import options as common
from provisioning.lokiquery import Entry, Reader
from provisioning.timerange import TimeRangeError
from provisioning.troubleshoot import views
from provisioning.troubleshoot.follow import entry_key, follow
from provisioning.troubleshoot.records import Record, parse
from provisioning.troubleshoot.search import LogFilters, newest

log = logging.getLogger(__name__)


def add_parser(parser: argparse.ArgumentParser) -> None:
    common.add_services(parser)
    parser.add_argument("--env", action="append", default=[], help="only these env label values")
    parser.add_argument("--log-type", "-t", action="append", default=[],
                        help="application, system, audit, security (repeat, or comma-separate)")
    parser.add_argument("--level", "-l", action="append", default=[],
                        help="debug, info, warn, error, critical (repeat, or comma-separate)")
    parser.add_argument("--error-code", "-e", default="", metavar="TYPE", help="only records with this error.type")
    parser.add_argument("--trace-id", default="", help="only records of this trace")
    parser.add_argument("--text", action="append", default=[], help="only lines containing this text (repeatable)")
    common.add_range(parser, "1h")
    parser.add_argument("--limit", "-n", type=int, default=100,
                        help="show the newest N entries of the range (0: all; default 100)")
    common.add_output(parser)
    parser.add_argument("--follow", "-f", action="store_true",
                        help="then keep printing new entries, polling every second, until Ctrl-C")
    parser.set_defaults(run=run, stop=None)


def run(args: argparse.Namespace) -> int:
    if args.follow and args.end:
        raise TimeRangeError("--follow reads up to now and on; leave out --to")
    span = common.time_range(args)
    filters = LogFilters(
        services=logql.split_values(args.service), envs=logql.split_values(args.env),
        log_types=logql.split_values(args.log_type), levels=logql.split_values(args.level),
        error_type=args.error_code, trace_id=args.trace_id, texts=args.text,
    )
    reader = common.reader(args, filters.log_types)  # without --log-type: every tenant, merged in time order
    query = filters.query()
    started = time.perf_counter()
    entries = newest(reader, query, span.start_ns, span.end_ns, args.limit)
    if args.follow:
        return _follow(args, reader, query, filters, entries, span.start_ns)
    records = [r for r in map(parse, entries) if filters.matches(r)]
    if args.output == "json":
        print(json.dumps([views.log_json(r) for r in records], indent=2, ensure_ascii=False))
    else:
        print(views.log_table(records) if records else "no log entries match in this range")
        log.info("%d entries in %.2fs; query: %s", len(records), time.perf_counter() - started, query)
    return 0


def _follow(args: argparse.Namespace, reader: Reader, query: str, filters: LogFilters, entries: list[Entry],
            start_ns: int) -> int:
    """Print the newest entries, then every new one as it arrives (JSON: one object per line); Ctrl-C ends it."""
    stop: threading.Event = args.stop or threading.Event()
    floor = entries[-1].timestamp_ns if entries else start_ns
    seen = {entry_key(e) for e in entries if e.timestamp_ns >= floor}

    def show(record: Record) -> None:
        if args.output == "json":
            print(json.dumps(views.log_json(record), ensure_ascii=False), flush=True)
        else:
            print(views.log_line(record), flush=True)

    for record in map(parse, entries):
        if filters.matches(record):
            show(record)
    try:
        for entry in follow(reader, query, floor, stop, seen=seen):
            record = parse(entry)
            if filters.matches(record):
                show(record)
    except KeyboardInterrupt:
        pass
    return 0
