"""Show each log type's retention next to what the running Loki applies, or render Loki's retention overrides."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from provisioning import config
from provisioning.commands import options
from provisioning.retention import check, render_overrides, status


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["status", "render"],
                        help="status: tracklog.yaml next to the running Loki; render: Loki's runtime overrides "
                             "(retention_stream rules) for Loki 2.3 or later")
    options.add_output(parser)
    parser.add_argument("--strict", action="store_true", help="exit 1 when Loki cannot apply per-type retention")
    parser.add_argument("--out", metavar="FILE", help="render: write the overrides here (default: stdout)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    if args.action == "render":
        text = render_overrides(cfg)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            print(f"wrote {args.out}", file=sys.stderr)
        else:
            print(text, end="")
        return 0
    current = status(cfg)
    if args.output == "json":
        print(json.dumps({**current.__dict__, "types": [t.__dict__ for t in current.types],
                          "rules": [r.__dict__ for r in current.rules]}, indent=2))
    else:
        print("\n".join(current.lines()))
    if args.strict:
        check(cfg)
    return 0
