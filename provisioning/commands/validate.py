"""Render, then check every dashboard and rule: uids, datasources, and each query on the real Loki and Prometheus."""

from __future__ import annotations

import argparse
import sys

from provisioning import config
from provisioning.render import DEFAULT_OUT, ENGINES, render
from provisioning.validate import validate


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help=f"render into this directory first (default: {DEFAULT_OUT})")
    parser.add_argument("--engine", default="auto", choices=["auto", *ENGINES], help="Jsonnet binding")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    rendered = render(cfg, out_dir=args.out, engine=args.engine)
    problems = validate(cfg, rendered)
    for problem in problems:
        print(f"validate: {problem}", file=sys.stderr)
    if problems:
        print(f"validate: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"validate: {len(rendered.dashboards)} dashboards and their rules are valid "
          f"(Loki {cfg.endpoints.loki.url}, Prometheus {cfg.endpoints.prometheus})")
    return 0
