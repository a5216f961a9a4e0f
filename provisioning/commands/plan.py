"""Show what `apply` would change: exit 0 for no changes, 2 for changes, 1 for errors (Terraform's exit codes)."""

from __future__ import annotations

import argparse
import json

from provisioning import config, provision
from provisioning.commands import options


def add_parser(parser: argparse.ArgumentParser) -> None:
    options.add_output(parser)
    parser.add_argument("--out", default=None, help="render into this directory (default: build/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    planned = provision.plan(config.load(args.config), out_dir=args.out)
    if args.output == "json":
        print(json.dumps({"targets": {t.name: p.as_json() for t, p in zip(planned.targets, planned.plans,
                                                                          strict=True)},
                          "checksum": planned.checksum()}, indent=2))
    else:
        print(planned.text())
        print(f"checksum: {planned.checksum()}")
    return 2 if planned.has_changes() else 0
