"""Top error fingerprints of a range: kind, message template and function, with the services erring alongside."""

from __future__ import annotations

import argparse
import json

from provisioning import logql
from provisioning.commands import options as common
from provisioning.troubleshoot import errorgroups, views


def add_parser(parser: argparse.ArgumentParser) -> None:
    common.add_services(parser)
    common.add_range(parser, "1h")
    parser.add_argument("--top", type=int, default=20, help="show this many fingerprints (default 20; 0: all)")
    common.add_output(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    span = common.time_range(args)
    # Every service's errors are read, so that co-occurrence sees them all; --service picks the ones grouped.
    records = errorgroups.read(common.reader(args), span)
    groups = errorgroups.group(records, set(logql.split_values(args.service)))
    shown = groups[: args.top] if args.top > 0 else groups
    if args.output == "json":
        print(json.dumps([errorgroups.as_json(g) for g in shown], indent=2, ensure_ascii=False))
    else:
        print(views.errors_view(shown, sum(g.count for g in groups)))
    return 0
