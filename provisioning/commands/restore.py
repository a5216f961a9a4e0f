"""Restore an archived run into Loki under restored="true", keeping the original timestamps."""

from __future__ import annotations

import argparse
import json

from provisioning import config
from provisioning.archive.restore import Restorer
from provisioning.commands import options
from provisioning.errors import TracklogError


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", dest="run_id", required=True, metavar="ID", help="the archive run to restore")
    parser.add_argument("--stream-selector", metavar="SELECTOR",
                        help='only streams matching this LogQL selector, e.g. {service="auth", level=~"warn|error"}')
    parser.add_argument("--prefix", default="archive", help="key prefix in the bucket (default: archive)")
    parser.add_argument("--encryption-key-env", metavar="VAR",
                        help="read the key from $VAR instead of the variable the run's manifest names")
    options.add_output(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    try:
        report = Restorer(cfg, args.run_id, args.prefix, args.stream_selector, args.encryption_key_env).run()
    except (LookupError, ValueError) as exc:
        raise TracklogError(str(exc)) from exc
    print(json.dumps(report.to_dict(), indent=2) if args.output == "json" else "\n".join(report.summary()))
    return 0 if report.ok else 1
