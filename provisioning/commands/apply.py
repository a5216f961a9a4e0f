"""Validate, re-plan, print the plan, then apply it; a second apply with no edits changes nothing."""

from __future__ import annotations

import argparse
import sys

from provisioning import config, provision


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--force", action="store_true", help="allow a plan that deletes many managed objects")
    parser.add_argument("--max-delete-share", type=float, default=0.3,
                        help="share of managed objects a plan may delete without --force (default 0.3)")
    parser.add_argument("--plan-checksum", default=None, help="refuse unless the live plan has this checksum")
    parser.add_argument("--out", default=None, help="render into this directory (default: build/)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    planned = provision.plan(config.load(args.config), out_dir=args.out)
    print(planned.text(), flush=True)
    if not planned.has_changes():
        print("apply: nothing to do")
        return 0
    made = provision.apply(planned, force=args.force, max_delete_share=args.max_delete_share,
                           checksum=args.plan_checksum)
    print(f"apply: {made} change(s) applied", file=sys.stderr)
    return 0
