"""Run the native stack: up, down, status, logs, build; compose-config renders the same for docker-compose."""

from __future__ import annotations

import argparse
import json

from provisioning import config
from provisioning.commands import options
from provisioning.errors import StackError
from provisioning.render import render_compose_provisioning
from provisioning.stack import Stack
from provisioning.stack.distributed import DistributedStack
from provisioning.stack.ring import RingMember


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status", "logs", "build", "compose-config"])
    parser.add_argument("servers", nargs="*", help="only these servers (default: all; `logs` takes one)")
    parser.add_argument("--follow", "-f", action="store_true", help="logs: keep printing new lines")
    options.add_output(parser)
    parser.add_argument("--topology", choices=["single", "distributed"], default="single",
                        help="distributed: Loki as distributor, 3 ingesters, querier and query frontend on 127.0.15.x, "
                             "with its own S3 gateway and state/distributed/ (up, down, status, logs, build)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    loaded = config.load(args.config)
    stack = DistributedStack(loaded) if args.topology == "distributed" else Stack(loaded)
    if args.action == "build":
        for name, path in stack.build().items():
            print(f"{name}\t{path}")
        return 0
    if args.action == "compose-config":
        out = stack.config.root / "build" / "compose"
        print(stack.compose_config(out))
        print(render_compose_provisioning(stack.config, out))  # Grafana's datasources, from tracklog.yaml
        return 0
    if args.action == "down":
        stack.down(args.servers)
        return 0
    if args.action == "logs":
        name = args.servers[0] if args.servers else "loki"
        if args.follow:
            for line in stack.follow(name):
                print(line, end="", flush=True)
        else:
            print(stack.log_file(name).read_text(encoding="utf-8", errors="replace"), end="")
        return 0
    statuses = stack.up(args.servers) if args.action == "up" else stack.status(args.servers)
    ring = _ring(stack) if isinstance(stack, DistributedStack) else None
    if args.output == "json":
        body: object = [s.__dict__ for s in statuses]
        if ring is not None:
            body = {"servers": body, "ring": [m.__dict__ for m in ring[0]], "ring_error": ring[1]}
        print(json.dumps(body, indent=2))
    else:
        print(f"{'server':<15} {'health':<8} {'version':<10} {'pid':<8} url")
        for s in statuses:
            print(f"{s.name:<15} {'ok' if s.healthy else 'DOWN':<8} {s.version:<10} {s.pid or '-'!s:<8} {s.url}")
        if ring is not None:
            _print_ring(*ring)
    healthy = all(s.healthy for s in statuses)
    if ring is not None:
        healthy = healthy and not ring[1] and all(m.state == "ACTIVE" for m in ring[0])
    return 0 if healthy else 1


def _ring(stack: DistributedStack) -> tuple[list[RingMember], str]:
    try:
        return stack.ring(), ""
    except StackError as exc:
        return [], str(exc)


def _print_ring(members: list[RingMember], error: str) -> None:
    print("\ningester ring (as the distributor sees it):")
    if error:
        print(f"  {error}")
        return
    print(f"  {'id':<12} {'state':<10} {'address':<22} heartbeat")
    for m in members:
        print(f"  {m.id:<12} {m.state:<10} {m.address:<22} {m.heartbeat}")
