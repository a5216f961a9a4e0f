"""Audit the logs in Loki: `audit verify` checks the hash chains of audit and security records."""

from __future__ import annotations

import argparse
import json
import sys
import time

from provisioning import config
from provisioning.audit.verify import verify
from provisioning.lokiquery import LokiReader
from provisioning.timerange import resolve


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True)
    check = sub.add_parser("verify", help="find removed, reordered or altered audit/security records")
    check.add_argument("--since", help="how far back from --to (default 24h): 30m, 24h, 7d; or --from")
    check.add_argument("--from", dest="start", metavar="TIME",
                       help="start: RFC 3339 (UTC if no offset), a date, epoch seconds, or a time ago like 2h")
    check.add_argument("--to", dest="end", metavar="TIME", help="end (default now), same forms as --from")
    check.add_argument("--service", default=None)
    check.add_argument("--output", choices=["text", "json"], default="text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    span = resolve(args.since, args.start, args.end, time.time_ns(), "24h")
    selector = '{log_type=~"audit|security"' + (f', service="{args.service}"' if args.service else "") + "}"
    report = verify(LokiReader(cfg).entries(selector, span.start_ns, span.end_ns))
    if args.output == "json":
        print(json.dumps({"chains": report.chains, "records": report.records, "unchained": report.unchained,
                          "findings": [f.__dict__ for f in report.findings]}, indent=2))
    else:
        for finding in report.findings:
            print(f"audit verify: {finding}", file=sys.stderr)
        print(f"audit verify: {report.records} records in {report.chains} chain(s), {report.unchained} unchained, "
              f"{len(report.findings)} finding(s)")
    return 1 if report.findings else 0
