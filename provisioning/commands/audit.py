"""Audit the logs in Loki: `verify` hash chains, `detect` suspicious activity, `report` for a compliance review."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from provisioning import config, logql
from provisioning.audit import detect as detection
from provisioning.audit import report as compliance
from provisioning.audit.verify import verify
from provisioning.commands import options
from provisioning.lokiquery import reader_for
from provisioning.timerange import resolve


def add_parser(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="audit_command", required=True)
    check = sub.add_parser("verify", help="find removed, reordered or altered audit/security records")
    options.add_range(check, "24h")
    check.add_argument("--service", default=None)
    options.add_output(check)
    find = sub.add_parser("detect", help="credential stuffing, password spraying, failure surges, brute force, "
                          "success after failures, logins outside the allow-lists (staff, admins) or new for the "
                          "user, impossible travel, admin grants, denied admin access (exit 2 when found)")
    options.add_range(find, "24h")
    find.add_argument("--env", default=None, help="only this env label (default: all)")
    options.add_output(find)
    review = sub.add_parser("report", help="a compliance report (HTML + CSV) of logins, failures, permission "
                            "changes, admin actions and findings")
    options.add_range(review, "30d")
    review.add_argument("--env", default=None, help="only this env label (default: all)")
    review.add_argument("--out", required=True, metavar="DIR", help="write report.html and the CSVs here")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    command = getattr(args, "audit_command", None) or "verify"
    if command == "detect":
        return run_detect(args)
    if command == "report":
        return run_report(args)
    return run_verify(args)


def _read(args: argparse.Namespace, default_since: str, line_filter: bool):
    cfg = config.load(args.config)
    thresholds = detection.Thresholds.from_config(cfg.thresholds)
    policy = detection.Policy.from_security(cfg.security)
    security = cfg.security
    span = resolve(args.since, args.start, args.end, time.time_ns(), default_since)
    reader = reader_for(cfg, detection.LOG_TYPES)
    records = detection.records_from(reader.entries(detection.selector(args.env, line_filter=line_filter),
                                                    span.start_ns, span.end_ns))
    history: list[dict] = []
    if security.lookback_ns:  # the successful logins before the period, for the per-user baselines
        history = detection.records_from(reader.entries(detection.success_selector(args.env),
                                                        span.start_ns - security.lookback_ns, span.start_ns))
    findings = detection.detect(records, thresholds, policy, security, history, span.start_ns)
    return cfg, span, records, findings, policy


def run_detect(args: argparse.Namespace) -> int:
    """Print the findings; exit 0 when there are none, 2 when there are (errors raise: the CLI exits 1)."""
    _, span, records, findings, _ = _read(args, "24h", line_filter=True)
    if args.output == "json":
        print(json.dumps({"from": span.start_ns, "to": span.end_ns, "records": len(records),
                          "findings": [f.as_json() for f in findings]}, indent=2, default=str))
    else:
        for finding in findings:
            print(finding)
        print(f"audit detect: {len(records)} record(s), {len(findings)} finding(s)")
    return 2 if findings else 0


def run_report(args: argparse.Namespace) -> int:
    """Write report.html and the CSVs into --out; print each path."""
    cfg, span, records, findings, policy = _read(args, "30d", line_filter=False)
    paths = compliance.write(Path(args.out), records, findings, policy, span, args.env, time.time_ns(),
                             cfg.project)
    for path in paths:
        print(path)
    return 0


def run_verify(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    span = resolve(args.since, args.start, args.end, time.time_ns(), "24h")
    selector = logql.selector(log_type=["audit", "security"], service=[args.service] if args.service else None)
    report = verify(reader_for(cfg, detection.LOG_TYPES).entries(selector, span.start_ns, span.end_ns))
    if args.output == "json":
        print(json.dumps({"chains": report.chains, "records": report.records, "unchained": report.unchained,
                          "findings": [f.__dict__ for f in report.findings]}, indent=2))
    else:
        for finding in report.findings:
            print(f"audit verify: {finding}", file=sys.stderr)
        print(f"audit verify: {report.records} records in {report.chains} chain(s), {report.unchained} unchained, "
              f"{len(report.findings)} finding(s)")
    return 1 if report.findings else 0
