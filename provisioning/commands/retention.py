"""Show each log type's retention from tracklog.yaml next to what the running Loki applies."""

from __future__ import annotations

import argparse
import json

from provisioning import config
from provisioning.retention import check, status


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["status"])
    parser.add_argument("--output", choices=["text", "json"], default="text")
    parser.add_argument("--strict", action="store_true", help="exit 1 when Loki cannot apply per-type retention")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    current = status(cfg)
    if args.output == "json":
        print(json.dumps({**current.__dict__, "types": [t.__dict__ for t in current.types]}, indent=2))
    else:
        print("\n".join(current.lines()))
    if args.strict:
        check(cfg)
    return 0
