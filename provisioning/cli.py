"""The `tracklog` command: shared flags once, then one subcommand module per command."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from provisioning.errors import TracklogError

# Command name -> its module; a module is imported only when its command runs (or all are, for build_parser()),
# so `tracklog --help` and each command load just what they need (boto3, grafana-client and requests are slow).
COMMANDS: dict[str, str | ModuleType] = {
    name: f"provisioning.commands.{name}" for name in (
        "stack", "render", "validate", "plan", "apply", "agent", "audit", "logs", "trace", "errors", "report",
        "archive", "restore", "retention", "review", "collect")
}


def _module(entry: str | ModuleType) -> ModuleType:
    return importlib.import_module(entry) if isinstance(entry, str) else entry


def _summary(entry: str | ModuleType) -> str:
    """A command's one-line help: its module docstring's first line, read without importing the module."""
    if not isinstance(entry, str):
        return (entry.__doc__ or "").splitlines()[0]
    spec = importlib.util.find_spec(entry)
    source = Path(spec.origin).read_text(encoding="utf-8") if spec and spec.origin else ""
    return (ast.get_docstring(ast.parse(source)) or "").splitlines()[0]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with ``only``, just that command's arguments are set up ("" for none, as `tracklog --help`)."""
    parser = argparse.ArgumentParser(prog="tracklog", description=__doc__)
    parser.add_argument("--config", default=None, help="tracklog.yaml (default: $TRACKLOG_CONFIG, ./tracklog.yaml)")
    verbosity = parser.add_mutually_exclusive_group()
    verbosity.add_argument("--debug", action="store_true", help="log debug detail to stderr")
    verbosity.add_argument("--quiet", action="store_true", help="log only errors")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, entry in COMMANDS.items():
        command = sub.add_parser(name, help=_summary(entry))
        if only is None or name == only:
            _module(entry).add_parser(command)
    return parser


def _command_in(argv: Sequence[str]) -> str:
    """The command named on the command line (after the shared flags), or "" when none is."""
    rest = list(argv)
    while rest:
        word = rest.pop(0)
        if word == "--config":
            rest = rest[1:]
        elif word in COMMANDS:
            return word
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(_command_in(argv)).parse_args(argv)
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
