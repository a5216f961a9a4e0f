"""Render the dashboards, alert rules and Grafana provisioning files from tracklog.yaml (into build/)."""

from __future__ import annotations

import argparse

from provisioning import config
from provisioning.render import DEFAULT_OUT, ENGINES, render


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default=None, help=f"output directory (default: {DEFAULT_OUT})")
    parser.add_argument("--engine", default="auto", choices=["auto", *ENGINES],
                        help="Jsonnet binding (default: the fastest installed)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    rendered = render(config.load(args.config), out_dir=args.out, engine=args.engine)
    rules = sum(len(g["rules"]) for g in rendered.prometheus_rules["groups"] + rendered.loki_rules["groups"])
    print(f"rendered {len(rendered.dashboards)} dashboards in {len(rendered.folders)} folders, {rules} alert rules "
          f"and {len(rendered.templates)} notification template group(s) into {rendered.out_dir} "
          f"({rendered.engine}, {rendered.seconds:.2f}s)")
    return 0
