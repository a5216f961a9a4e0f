"""Tail log files of other sources and ship them to Loki (the file agent)."""

from __future__ import annotations

import argparse

from provisioning import config


def add_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--once", action="store_true", help="ship what the files hold now, then exit")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from exporters.agent.main import run_agent
    from provisioning.agent import agent_settings, build_router

    cfg = config.load(args.config)
    if not cfg.agent.sources:
        print(f"tracklog agent: no agent.sources in {cfg.path}; nothing to do")
        return 0
    return run_agent(agent_settings(cfg), build_router(cfg), once=args.once, own_client=True)
