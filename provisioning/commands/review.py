"""Review and refine: alert rules backtested over history (`alerts`), retention against use and cost (`retention`),
logging standards per service and log type (`schema`)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from provisioning import config, logql, timerange
from provisioning.review import (
    alerts,
    alerts_html,
    output,
    retention,
    retention_read,
    retention_view,
    schema_read,
    schema_view,
    suggest,
)
from provisioning.review.history import LokiSource, PrometheusSource


def add_parser(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="kind", required=True)
    a = kinds.add_parser("alerts", help="backtest every alert rule over the history in Prometheus and Loki")
    a.add_argument("--since", default="7d", help="how far back from --to (default 7d): 30m, 2h, 7d")
    a.add_argument("--from", dest="start", metavar="TIME", help="start: RFC3339, a date, or a time ago like 2h")
    a.add_argument("--to", dest="end", metavar="TIME", help="end (default now)")
    a.add_argument("--rule", action="append", default=[], metavar="NAME",
                   help="only this rule (alertname or title; repeat for more)")
    a.add_argument("--match", action="append", default=[], metavar="LABEL=VALUE",
                   help="only series with this label value (or LABEL!=VALUE), e.g. env=prod; series of rules that do "
                        "not split by the label are kept")
    a.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                   help="what-if: a tracklog.yaml value for this run only, e.g. thresholds.api_error_rate_percent=2")
    a.add_argument("--budget", default="2/week", help="firings allowed per rule, e.g. 2/week, 1/day (default 2/week)")
    a.add_argument("--incident", action="append", default=[], metavar="START/END",
                   help="a window of a real incident the rule should fire in (repeat for more)")
    a.add_argument("--incidents-file", metavar="FILE", help="START/END windows, one a line (# comments)")
    a.add_argument("--output", "-o", choices=("text", "json"), default="text")
    a.add_argument("--html", metavar="DIR", help="also write DIR/review-alerts.html: a self-contained page with a "
                                                 "chart per rule (signal, thresholds, firings, marked incidents)")
    a.set_defaults(run=run_alerts)

    r = kinds.add_parser("retention", help="ingestion per day, steady-state size and cost at the configured retention")
    r.add_argument("--since", default="7d", help="whole days of history to average (default 7d)")
    r.add_argument("--price-gb-month", type=float, default=0.023, help="Loki storage, $ per GB-month (default 0.023)")
    r.add_argument("--s3-price-gb-month", type=float, default=0.023, help="the archive's S3, $ per GB-month")
    r.add_argument("--query-log", metavar="FILE", help="Loki's log, for how far back people query "
                                                       "(default: the native stack's state/logs/loki.log)")
    r.add_argument("--prefix", default="archive", help="the archive's key prefix in the bucket (default archive)")
    r.add_argument("--output", "-o", choices=("text", "json"), default="text")
    r.set_defaults(run=run_retention)

    s = kinds.add_parser("schema", help="logging standards per service and log type; exit 2 when there are findings")
    s.add_argument("--since", default="1d", help="the window reviewed, back from --to (default 1d)")
    s.add_argument("--to", dest="end", metavar="TIME", help="end (default now)")
    s.add_argument("--lookback", default="7d",
                   help="the window before --since that new fields and stopped log types are judged against "
                        "(default 7d)")
    s.add_argument("--service", action="append", default=[], help="only this service (repeat or comma-separate)")
    s.add_argument("--env", action="append", default=[], help="only this env (repeat or comma-separate)")
    s.add_argument("--sample", type=int, default=schema_read.DEFAULT_SAMPLE,
                   help=f"newest records read per service and log type in each window "
                        f"(default {schema_read.DEFAULT_SAMPLE})")
    s.add_argument("--output", "-o", choices=("text", "json"), default="text")
    s.set_defaults(run=run_schema)


def run_alerts(args: argparse.Namespace) -> int:
    now = time.time_ns()
    span = timerange.resolve(None if args.start else args.since, args.start, args.end, now, "7d")
    cfg = config.load(args.config)
    incidents = [suggest.parse_incident(text, now) for text in args.incident]
    if args.incidents_file:
        incidents += suggest.read_incidents(args.incidents_file, now)
    sources = alerts.Sources(PrometheusSource(cfg.endpoints.prometheus), LokiSource(cfg))
    match = [alerts.parse_match(m) for m in args.match]
    result = alerts.review(cfg, sources, span.start_ns / timerange.NS, span.end_ns / timerange.NS,
                           only=args.rule, match=match, sets=args.sets, budget=suggest.parse_budget(args.budget),
                           incidents=incidents)
    if args.output == "json":
        print(json.dumps(output.as_json(result, cfg.path.name), indent=2))
    else:
        print(output.text(result, cfg.path.name))
    if args.html:
        # the signals are in the sources' cache: drawing them makes no further query
        series_of = {r.rule.title: alerts.select(sources.series(r.rule, result.start, result.end), match)
                     for r in result.rules if not r.error}
        page = alerts_html.write(Path(args.html), result, series_of, cfg.path.name)
        print(f"wrote {page}", file=sys.stderr)
    return 1 if any(r.error for r in result.rules) else 0


def run_retention(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    days = max(1, round(timerange.parse_duration(args.since) / timerange.NS / retention.DAY))
    query_log = args.query_log or retention_read.default_query_log(cfg)
    result = retention_read.review(cfg, time.time(), days, args.price_gb_month, args.s3_price_gb_month, query_log,
                                   args.prefix)
    if args.output == "json":
        print(json.dumps(retention_view.as_json(result), indent=2))
    else:
        print(retention_view.text(result))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    now = time.time_ns()
    span = timerange.resolve(args.since, None, args.end, now, "1d")
    lookback = timerange.parse_duration(args.lookback) / timerange.NS
    result = schema_read.review(cfg, span.start_ns / timerange.NS, span.end_ns / timerange.NS, lookback,
                                services=logql.split_values(args.service), envs=logql.split_values(args.env),
                                size=max(1, args.sample))
    if args.output == "json":
        print(json.dumps(schema_view.as_json(result), indent=2))
    else:
        print(schema_view.text(result))
    return 2 if result.findings else 0
