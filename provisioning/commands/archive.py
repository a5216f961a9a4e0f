"""Archive a log type from Loki to the S3 bucket per stream and UTC day, or verify archived runs."""

from __future__ import annotations

import argparse
import json
import time

from provisioning import config
from provisioning.archive.days import resolve_range
from provisioning.archive.export import Archiver, ArchiveRequest
from provisioning.archive.store import Store
from provisioning.archive.verify import verify
from provisioning.commands import options
from provisioning.errors import TracklogError
from provisioning.timerange import TimeRangeError


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", nargs="?", choices=["run", "verify"], default="run",
                        help="run (the default): export from Loki; verify: check runs against the bucket")
    parser.add_argument("--log-type", choices=config.LOG_TYPES, help="run: the log type to archive (required)")
    parser.add_argument("--service", action="append", default=[], help="run: only this service (repeatable)")
    parser.add_argument("--after", help="run: start of the range: 2024-05-01, RFC 3339, epoch seconds or 3d (ago); "
                                         "default: the log type's retention before --before")
    parser.add_argument("--since", help="run: the range is this long before its end, e.g. 7d")
    parser.add_argument("--before", help="run: end of the range, exclusive (default: now minus archive.lag from "
                                          "tracklog.yaml, e.g. now-2d; now when no lag is set)")
    parser.add_argument("--prefix", default="archive", help="key prefix in the bucket (default: archive)")
    parser.add_argument("--encryption-key-env", metavar="VAR",
                        help="encrypt objects (AES-256-GCM) with the 32-byte key in $VAR (base64 or hex); "
                             "verify: read the key from $VAR instead of the one the manifest names")
    parser.add_argument("--lock-lease", type=float, default=300.0, metavar="SECONDS",
                        help="run: lease of the lock against concurrent runs, renewed while running")
    parser.add_argument("--run", dest="run_id", metavar="ID", help="verify: only this run")
    options.add_output(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    cfg = config.load(args.config)
    if args.action == "verify":
        report = verify(Store(cfg), args.prefix, args.run_id, args.encryption_key_env)
        _print(args.output, report.summary(), {"ok": report.ok, "runs": report.runs, "objects": report.objects,
                                               "lines": report.lines, "problems": report.problems})
        return 0 if report.ok else 1
    if not args.log_type:
        raise TracklogError("archive needs --log-type (one of " + ", ".join(config.LOG_TYPES) + ")")
    given = [(name, getattr(args, name)) for name in ("after", "since", "before") if getattr(args, name)]
    # Without --before the run ends archive.lag ago; the implied flag names the job too, so a rerun resumes it.
    implied = [] if args.before or not cfg.archive.lag else [("before", f"now-{cfg.archive.lag}")]
    before = args.before or (implied[0][1] if implied else None)
    retention = cfg.log_types[args.log_type].retention
    try:
        try:
            span = resolve_range(args.after, before, args.since, cfg.log_types[args.log_type].retention_seconds,
                                 time.time_ns())
        except TimeRangeError as exc:
            if implied:
                raise TimeRangeError(f"{exc} (--before defaults to {before}: archive.lag in {cfg.path})") from None
            raise
        request = ArchiveRequest(
            log_type=args.log_type, span=span, services=tuple(args.service), prefix=args.prefix,
            range_args=" ".join(f"--{name} {value}" for name, value in (given or [("since", retention)]) + implied),
            encryption_key_env=args.encryption_key_env, lease_seconds=args.lock_lease,
        )
        archiver = Archiver(cfg, request)
    except ValueError as exc:
        raise TracklogError(str(exc)) from exc
    report = archiver.run()
    _print(args.output, report.summary(), report.to_dict())
    return 0 if report.ok else 1


def _print(output: str, text: list[str], doc: dict) -> None:
    print(json.dumps(doc, indent=2) if output == "json" else "\n".join(text))
