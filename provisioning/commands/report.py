"""Reports from the logs in Loki; `performance`: response-time and DB-query percentiles, hours, peaks."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from provisioning import logql
from provisioning.commands import options as common
from provisioning.troubleshoot import performance, table, views

CSV_HEADERS = ("section", "key", "count", "p50_ms", "p95_ms", "p99_ms", "max_ms", "timeouts")


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("kind", choices=["performance"])
    common.add_services(parser)
    common.add_range(parser, "24h")
    parser.add_argument("--peaks", type=int, default=5, help="how many peak hours to list (default 5)")
    common.add_output(parser, ("text", "json", "csv"))
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    span = common.time_range(args)
    reader = common.reader(args, performance.LOG_TYPES)
    report = performance.read(reader, span, logql.split_values(args.service), args.peaks)
    if args.output == "json":
        print(json.dumps(asdict(report), indent=2))
    elif args.output == "csv":
        print(table.to_csv(CSV_HEADERS, report.rows()), end="")
    else:
        print(views.report_view(report))
    return 0
