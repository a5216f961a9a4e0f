"""Start each service as its own OS process (``python -m demo.service``), and stop them all cleanly."""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class StartError(RuntimeError):
    pass


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]
    port: int
    metrics_port: int
    target_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start(name: str, env: str, config_path: Path, *extra: str, ready_timeout: float = 30.0) -> Child:
    """Start one service and wait for its ready line (its HTTP port, metrics port and file_sd file)."""
    argv = [sys.executable, "-m", "demo.service", name, "--env", env, "--config", str(config_path), *extra]
    process = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               start_new_session=True)  # signals reach it only through us
    assert process.stdout is not None
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        readable, _, _ = select.select([process.stdout], [], [], 0.2)
        if readable:
            line = process.stdout.readline()
            if not line:
                break
            info = json.loads(line)
            process.stdout.close()
            return Child(name, process, int(info["port"]), int(info["metrics_port"]), Path(info["target_file"]))
        if process.poll() is not None:
            break
    _signal(process.pid, signal.SIGKILL)
    process.wait()
    raise StartError(f"{name} did not start (exit code {process.poll()}); see its errors above")


def stop_all(children: list[Child], timeout: float = 8.0) -> dict[str, int | None]:
    """SIGTERM every child, wait up to ``timeout`` in all, SIGKILL stragglers; remove their file_sd files."""
    for child in children:
        if child.process.poll() is None:
            _signal(child.process.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    codes: dict[str, int | None] = {}
    for child in children:
        try:
            codes[child.name] = child.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            _signal(child.process.pid, signal.SIGKILL)
            codes[child.name] = child.process.wait()
        child.target_file.unlink(missing_ok=True)  # normally the child removed it already
    return codes


def _signal(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
