"""Show every record of one trace across services in time order, with gaps, durations and where it failed."""

from __future__ import annotations

import argparse
import json

from provisioning import logql
from provisioning.commands import options as common
from provisioning.troubleshoot import timeline, views


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace_id", help="the trace id (or its first characters, as `tracklog logs` shows them)")
    common.add_services(parser)
    common.add_range(parser, "24h")
    common.add_output(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    span = common.time_range(args)
    found = timeline.find(common.reader(args), args.trace_id.strip().lower(), span,
                          logql.split_values(args.service) or None)
    if args.output == "json":
        print(json.dumps(timeline.as_json(found), indent=2, ensure_ascii=False))
    else:
        print(views.trace_view(found))
    return 0
