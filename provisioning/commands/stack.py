"""Run the native stack: up, down, status, logs, build; compose-config renders the same for docker-compose."""

from __future__ import annotations

import argparse
import json

from provisioning import config
from provisioning.render import render_compose_provisioning
from provisioning.stack import Stack


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=["up", "down", "status", "logs", "build", "compose-config"])
    parser.add_argument("servers", nargs="*", help="only these servers (default: all; `logs` takes one)")
    parser.add_argument("--follow", "-f", action="store_true", help="logs: keep printing new lines")
    parser.add_argument("--output", choices=["text", "json"], default="text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    stack = Stack(config.load(args.config))
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
    if args.output == "json":
        print(json.dumps([s.__dict__ for s in statuses], indent=2))
    else:
        print(f"{'server':<13} {'health':<8} {'version':<10} {'pid':<8} url")
        for s in statuses:
            print(f"{s.name:<13} {'ok' if s.healthy else 'DOWN':<8} {s.version:<10} {s.pid or '-'!s:<8} {s.url}")
    return 0 if all(s.healthy for s in statuses) else 1
