"""Run the benchmarks: `python -m bench` (all) or `python -m bench loki|encoding|agent|jsonnet|read|faro [options]`."""

from __future__ import annotations

import importlib
import sys

BENCHES = {
    "loki": "bench.loki_handlers", "encoding": "bench.encoding", "agent": "bench.agent_throughput",
    "jsonnet": "bench.jsonnet_render", "read": "bench.read_side", "faro": "bench.faro_collector",
}


def main() -> int:
    args = sys.argv[1:]
    names = [args.pop(0)] if args and args[0] in BENCHES else list(BENCHES)
    status = 0
    for name in names:
        print(f"\n## {name}\n", flush=True)
        module = importlib.import_module(BENCHES[name])
        status |= int(module.main(args if len(names) == 1 else []) or 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
