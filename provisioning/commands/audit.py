"""Audit the logs in Loki: `audit verify` checks the hash chains of audit and security records."""

from __future__ import annotations

import argparse
import json
import sys
import time

from provisioning import config
from provisioning.audit.verify import verify
from provisioning.lokiquery import LokiReader
from provisioning.timerange import parse_range


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True)
    check = sub.add_parser("verify", help="find removed, reordered or altered audit/security records")
    check.add_argument("--since", default="24h", help="how far back (e.g. 24h, 7d) or --from/--to")
    check.add_argument("--from", dest="start", default=None)
    check.add_argument("--to", dest="end", default=None)
    check.add_argument("--service", default=None)
    check.add_argument("--output", choices=["text", "json"], default="text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    start_ns, end_ns = parse_range(args.since, args.start, args.end, now_ns=time.time_ns())
    selector = '{log_type=~"audit|security"' + (f', service="{args.service}"' if args.service else "") + "}"
    report = verify(LokiReader(cfg).entries(selector, start_ns, end_ns))
    if args.output == "json":
        print(json.dumps({"chains": report.chains, "records": report.records, "unchained": report.unchained,
                          "findings": [f.__dict__ for f in report.findings]}, indent=2))
    else:
        for finding in report.findings:
            print(f"audit verify: {finding}", file=sys.stderr)
        print(f"audit verify: {report.records} records in {report.chains} chain(s), {report.unchained} unchained, "
              f"{len(report.findings)} finding(s)")
    return 1 if report.findings else 0
