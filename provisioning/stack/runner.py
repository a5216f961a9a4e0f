"""Start, stop and report the native stack: exactly the processes `up` started, tracked by pid files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import requests

from exporters.files import write_atomic
from provisioning import procs
from provisioning.config import DEFAULT_PORTS, Config
from provisioning.errors import StackError
from provisioning.stack.servers import Paths, Server, servers, tools

# Files that tracklog itself changes while the stack runs (Loki's runtime overrides): written once, then kept.
KEEP_IF_EXISTS = frozenset({"runtime.yaml"})
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str, values: dict[str, str]) -> str:
    """Replace ``${NAME}`` and ``${NAME:-default}`` with values (then the environment, then the default)."""

    def one(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in values:
            return values[name]
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise StackError(f"config placeholder ${{{name}}} has no value and no default")

    return _PLACEHOLDER.sub(one, text)


@dataclass(frozen=True)
class Status:
    name: str
    url: str
    pid: int | None
    healthy: bool
    version: str
    detail: str


class Stack:
    """The native stack described by a tracklog.yaml."""

    def __init__(self, config: Config, ready_timeout: float = 120.0) -> None:
        self.config = config
        self.paths = Paths(config.stack.state_dir)
        self.servers = servers(config)
        self.ready_timeout = ready_timeout

    def placeholders(self) -> dict[str, str]:
        ports = self.config.stack.ports
        values = {f"{name.upper()}_PORT": str(port) for name, port in ports.items()}
        values["TRACKLOG_STATE"] = str(self.paths.root)
        values.setdefault(
            "ALERT_WEBHOOK_URL",
            os.environ.get("ALERT_WEBHOOK_URL", f"http://127.0.0.1:{ports['alertmanager_webhook']}/alerts"),
        )
        return values

    def build(self) -> dict[str, str]:
        """Make sure every binary exists (apt installs, Go builds; the servers, then the tools); return name -> path."""
        return {server.name: server.locate() for server in self.servers} | {
            name: locate() for name, locate in tools(self.config).items()}

    def render(self, server: Server, target: Path | None = None, values: dict[str, str] | None = None) -> Path:
        """Fill the server's config templates from stack/<name>/ into its state directory (or ``target``)."""
        source = self.config.root / "stack" / server.name
        target = target or self.paths.of(server.name)
        target.mkdir(parents=True, exist_ok=True)
        if not source.is_dir():
            return target
        values = values if values is not None else self.placeholders()
        for path in sorted(source.rglob("*")):
            if path.is_file():
                out = target / path.relative_to(source)
                if path.name in KEEP_IF_EXISTS and out.exists():
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                _write_atomically(out, expand(path.read_text(encoding="utf-8"), values))
        return target

    def compose_config(self, out_dir: Path) -> Path:
        """Render the same templates for docker-compose: containers reach each other by service name."""
        values = {
            "TRACKLOG_STATE": "/data", "LISTEN_ADDRESS": "0.0.0.0",  # noqa: S104 - inside its container
            "LOKI_HOST": "loki", "PROMETHEUS_HOST": "prometheus", "ALERTMANAGER_HOST": "alertmanager",
            "ALERT_WEBHOOK_URL": "http://host.docker.internal:9099/alerts",
            **{f"{name.upper()}_PORT": str(port) for name, port in DEFAULT_PORTS.items()},
        }
        for server in self.servers:
            self.render(server, out_dir / server.name, values)
        return out_dir

    def up(self, only: list[str] | None = None) -> list[Status]:
        """Start each server that is not running yet and wait until all are ready."""
        for directory in ("logs", "run"):
            (self.paths.root / directory).mkdir(parents=True, exist_ok=True)
        chosen = self._chosen(only)
        binaries = {server.name: server.locate() for server in chosen}
        started: dict[str, subprocess.Popen[bytes]] = {}
        for server in chosen:
            if self._running_pid(server) is not None:
                _say(f"{server.name}: already running ({server.url})")
                continue
            if _answers(server.ready_url()):
                raise StackError(
                    f"{server.name}: {server.url} is already served by a process this stack did not start; "
                    f"stop it, or change stack.ports.{server.name} in {self.config.path.name}"
                )
            self.render(server)
            for message in server.before_start(self.paths):
                _say(message)
            log = self.paths.log(server.name)
            with log.open("ab") as out:
                out.write(f"\n--- tracklog stack up {time.strftime('%Y-%m-%dT%H:%M:%S')} ---\n".encode())
                out.flush()
                argv = server.arguments(binaries[server.name], self.paths)
                process = subprocess.Popen(
                    argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=self.paths.of(server.name), start_new_session=True,
                    env={**os.environ, **server.environment()},
                )
            started[server.name] = process
            _write_atomically(self.paths.pid(server.name), json.dumps({"pid": process.pid, "argv": argv}))
            _say(f"{server.name}: started pid {process.pid}, log {log}")
        for server in chosen:
            self._wait_ready(server, started.get(server.name))
        return self.status(only)

    def down(self, only: list[str] | None = None) -> list[str]:
        """Stop the processes `up` started (and nothing else); return the names stopped."""
        stopped = []
        for server in reversed(self._chosen(only)):
            pid = self._running_pid(server)
            pid_file = self.paths.pid(server.name)
            if pid is None:
                pid_file.unlink(missing_ok=True)
                continue
            os.killpg(pid, signal.SIGTERM)
            deadline = time.monotonic() + server.stop_timeout
            while procs.alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            if procs.alive(pid):
                os.killpg(pid, signal.SIGKILL)
                while procs.alive(pid):
                    time.sleep(0.05)
            pid_file.unlink(missing_ok=True)
            stopped.append(server.name)
            _say(f"{server.name}: stopped pid {pid}")
        return stopped

    def status(self, only: list[str] | None = None) -> list[Status]:
        return [self._status(server) for server in self._chosen(only)]

    def log_file(self, name: str) -> Path:
        self._chosen([name])
        return self.paths.log(name)

    def follow(self, name: str, lines: int = 50) -> Iterator[str]:
        """Yield the last lines of a server's log, then new lines as they come."""
        path = self.log_file(name)
        if not path.exists():
            raise StackError(f"{name}: no log yet at {path}; has `tracklog stack up` run?")
        with path.open(encoding="utf-8", errors="replace") as handle:
            yield from handle.readlines()[-lines:]
            while True:
                line = handle.readline()
                if line:
                    yield line
                else:
                    time.sleep(0.3)

    def _chosen(self, only: list[str] | None) -> list[Server]:
        if not only:
            return self.servers
        known = {server.name: server for server in self.servers}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise StackError(f"unknown server(s) {', '.join(unknown)}; the stack has {', '.join(known)}")
        return [known[name] for name in only]

    def _running_pid(self, server: Server) -> int | None:
        """The pid from the pid file if that process is alive and is still the one we started."""
        try:
            record = json.loads(self.paths.pid(server.name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        pid = int(record["pid"])
        if not procs.alive(pid):
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            return None
        return pid if cmdline == record["argv"][0] else None

    def _wait_ready(self, server: Server, process: subprocess.Popen[bytes] | None) -> None:
        deadline = time.monotonic() + self.ready_timeout
        last = "no answer yet"
        while time.monotonic() < deadline:
            # A process we just started is judged by its exit status: until it has exec'd, its command line is
            # still Python's, so the pid-file check of _running_pid would wrongly call it gone.
            gone = process.poll() is not None if process is not None else self._running_pid(server) is None
            if gone and not _answers(server.ready_url()):
                raise StackError(
                    f"{server.name}: exited during start-up; see {self.paths.log(server.name)}:\n"
                    + _tail(self.paths.log(server.name))
                )
            try:
                response = requests.get(server.ready_url(), timeout=2)
                if response.status_code == 200:
                    _say(f"{server.name}: ready at {server.url}")
                    return
                last = f"{response.status_code} {response.text.strip()[:200]}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.25)
        raise StackError(
            f"{server.name}: not ready at {server.ready_url()} after {self.ready_timeout:.0f}s (last answer: {last}); "
            f"see {self.paths.log(server.name)}:\n" + _tail(self.paths.log(server.name))
        )

    def _status(self, server: Server) -> Status:
        pid = self._running_pid(server)
        try:
            response = requests.get(server.ready_url(), timeout=2)
            healthy, detail = response.status_code == 200, f"{response.status_code} {response.text.strip()[:80]}"
        except requests.RequestException as exc:
            healthy, detail = False, f"unreachable ({type(exc).__name__})"
        version = server.version
        if healthy and server.version_path:
            version = _reported_version(server.url + server.version_path) or version
        return Status(server.name, server.url, pid, healthy, version, detail)


def _reported_version(url: str) -> str:
    try:
        body = requests.get(url, timeout=2).json()
    except (requests.RequestException, ValueError):
        return ""
    data = body.get("data", body)
    if "versionInfo" in data:
        data = data["versionInfo"]
    return str(data.get("version", ""))


def _answers(url: str) -> bool:
    try:
        requests.get(url, timeout=1)
    except requests.RequestException:
        return False
    return True


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "".join(path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)[-lines:])
    except OSError:
        return "(no log)"


def _write_atomically(path: Path, text: str) -> None:
    write_atomic(path, text)


def _say(message: str) -> None:
    print(f"stack: {message}", file=sys.stderr, flush=True)
