"""The `tracklog` command: shared flags once, then one subcommand module per command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from provisioning.commands import (
    agent,
    apply,
    archive,
    audit,
    collect,
    errors,
    logs,
    plan,
    render,
    report,
    restore,
    retention,
    review,
    stack,
    trace,
    validate,
)
from provisioning.errors import TracklogError

COMMANDS = {
    "stack": stack, "render": render, "validate": validate, "plan": plan, "apply": apply, "agent": agent,
    "audit": audit, "logs": logs, "trace": trace, "errors": errors, "report": report, "archive": archive,
    "restore": restore, "retention": retention,
    "review": review,
    "collect": collect,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tracklog", description=__doc__)
    parser.add_argument("--config", default=None, help="tracklog.yaml (default: $TRACKLOG_CONFIG, ./tracklog.yaml)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--debug", action="store_true", help="log debug detail to stderr")
    verbosity.add_argument("--quiet", action="store_true", help="log only errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        module.add_parser(sub.add_parser(name, help=module.__doc__.splitlines()[0]))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    level = logging.DEBUG if args.debug else logging.ERROR if args.quiet else logging.INFO
    logging.basicConfig(level=level, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.run(args) or 0)
    except TracklogError as exc:
        print(f"tracklog {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `tracklog logs | head`: the reader left; say nothing more
        sys.stderr.close()
        return 141


if __name__ == "__main__":
    sys.exit(main())
