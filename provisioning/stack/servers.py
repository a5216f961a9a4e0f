"""What each server of the native stack is: where its binary comes from, how it starts, how it says it is ready."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from provisioning.config import Config
from provisioning.errors import StackError
from provisioning.stack.lokistate import set_aside_broken_index_files
from provisioning.statepaths import Paths


def read_versions(stack_dir: Path) -> dict[str, str]:
    """Read the pinned versions from ``stack/versions.env`` (the one place they are pinned)."""
    versions: dict[str, str] = {}
    for line in (stack_dir / "versions.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            versions[key.strip()] = value.strip().strip('"')
    return versions


LOKI_STOP_TIMEOUT = 300.0  # seconds: a stop waits this long for Loki to flush and upload before SIGKILL


@dataclass(frozen=True)
class Server:
    """One server: how to get its binary, the arguments it starts with, and its readiness URL."""

    name: str
    url: str
    ready_path: str
    version: str
    locate: Callable[[], str]
    arguments: Callable[[str, Paths], list[str]]
    version_path: str = ""
    environment: Callable[[], dict[str, str]] = dict
    # How long a stop waits after SIGTERM before SIGKILL; and what to repair in its state before it starts
    # (returns one message per repair).
    stop_timeout: float = 20.0
    before_start: Callable[[Paths], list[str]] = lambda paths: []

    def ready_url(self) -> str:
        return self.url + self.ready_path


def _apt_binary(binary: str, package: str) -> Callable[[], str]:
    def locate() -> str:
        found = shutil.which(binary)
        if found:
            return found
        if os.geteuid() != 0:
            raise StackError(
                f"{binary} is missing: install the Debian package '{package}' (sudo apt-get install {package})"
            )
        print(f"stack: installing Debian package {package} ...", file=sys.stderr, flush=True)
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        result = subprocess.run(
            ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
            env=env, capture_output=True, text=True, check=False,
        )
        if result.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, check=False)
            result = subprocess.run(
                ["apt-get", "install", "-y", "-q", "--no-install-recommends", package],
                env=env, capture_output=True, text=True, check=False,
            )
        found = shutil.which(binary)
        if result.returncode != 0 or not found:
            raise StackError(f"apt-get install {package} failed: {result.stderr.strip()[-500:]}")
        return found

    return locate


def _built_binary(script: Path) -> Callable[[], str]:
    def locate() -> str:
        result = subprocess.run(["bash", str(script)], stdout=subprocess.PIPE, text=True, check=False)
        lines = result.stdout.strip().splitlines()
        if result.returncode != 0 or not lines or not Path(lines[-1]).is_file():
            raise StackError(f"{script} failed (exit {result.returncode}); its output above names the build log")
        return lines[-1]

    return locate


# The headless browser the audit report's test renders the page in (Debian's package; apt-get as for Prometheus).
browser = _apt_binary("chromium", "chromium")


def tools(config: Config) -> dict[str, Callable[[], str]]:
    """What `tracklog stack build` provides besides the servers (the tests run them): name -> locate.

    pushcheck is a Go program built from stack/pushcheck; chromium is installed with apt-get when missing."""
    return {"pushcheck": _built_binary(config.root / "stack" / "build" / "pushcheck.sh"), "chromium": browser}


def pushcheck_binary(root: Path) -> Path:
    """Where stack/build/pushcheck.sh puts the binary for the current source (built or not; nothing is built)."""
    script = root / "stack" / "build" / "pushcheck.sh"
    result = subprocess.run(["bash", str(script), "--path"], stdout=subprocess.PIPE, text=True, check=False)
    if result.returncode != 0 or not result.stdout.strip():
        raise StackError(f"{script} --path failed (exit {result.returncode})")
    return Path(result.stdout.strip().splitlines()[-1])


def _made(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def _alertmanager_config(paths: Paths) -> Path:
    """The routing `tracklog apply` wrote (applied.yml) wins over the stack's template once it exists."""
    applied = paths.of("alertmanager") / "applied.yml"
    return applied if applied.exists() else paths.of("alertmanager") / "alertmanager.yml"


def s3_credentials(config: Config) -> tuple[str, str]:
    """The S3 gateway's root credentials: the ones tracklog.yaml's S3 endpoint uses (config.S3Endpoint)."""
    return config.endpoints.s3.credentials()


def servers(config: Config) -> list[Server]:
    """The servers of the native stack, in start order."""
    stack_dir = config.root / "stack"
    versions = read_versions(stack_dir)
    ports = config.stack.ports
    return [
        Server(
            name="loki",
            url=f"http://127.0.0.1:{ports['loki']}",
            ready_path="/ready",
            version=versions.get("LOKI_VERSION", "?"),
            version_path="/loki/api/v1/status/buildinfo",
            locate=_built_binary(stack_dir / "build" / "loki.sh"),
            arguments=lambda binary, paths: [
                binary, f"-config.file={paths.of('loki') / 'loki.yaml'}",
            ],
            # On SIGTERM Loki flushes every in-memory chunk (wal.flush_on_shutdown) and uploads its index; after a
            # busy test run that takes longer than 20 s here, and a SIGKILL mid-upload breaks the index.
            stop_timeout=LOKI_STOP_TIMEOUT,
            before_start=lambda paths: set_aside_broken_index_files(paths.of("loki")),
        ),
        Server(
            name="prometheus",
            url=f"http://127.0.0.1:{ports['prometheus']}",
            ready_path="/-/ready",
            version=versions.get("PROMETHEUS_VERSION", "?"),
            version_path="/api/v1/status/buildinfo",
            locate=_apt_binary("prometheus", "prometheus"),
            arguments=lambda binary, paths: [
                binary,
                f"--config.file={paths.of('prometheus') / 'prometheus.yml'}",
                f"--storage.tsdb.path={paths.of('prometheus') / 'data'}",
                f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                "--web.enable-remote-write-receiver",
                "--web.enable-lifecycle",
                "--storage.tsdb.retention.time=15d",
            ],
        ),
        Server(
            name="s3",
            url=f"http://127.0.0.1:{ports['s3']}",
            ready_path="/health",
            version=versions.get("S3GW_VERSION", "?"),
            locate=_built_binary(stack_dir / "build" / "s3.sh"),
            arguments=lambda binary, paths: [
                binary, "--port", f"127.0.0.1:{ports['s3']}", "--health", "/health", "--quiet",
                "posix", str(_made(paths.of("s3") / "data")),
            ],
            environment=lambda: {
                "ROOT_ACCESS_KEY_ID": s3_credentials(config)[0], "ROOT_SECRET_ACCESS_KEY": s3_credentials(config)[1],
            },
        ),
        Server(
            name="alertmanager",
            url=f"http://127.0.0.1:{ports['alertmanager']}",
            ready_path="/-/ready",
            version=versions.get("ALERTMANAGER_VERSION", "?"),
            version_path="/api/v2/status",
            locate=_apt_binary("prometheus-alertmanager", "prometheus-alertmanager"),
            arguments=lambda binary, paths: [
                binary,
                f"--config.file={_alertmanager_config(paths)}",
                f"--storage.path={paths.of('alertmanager') / 'data'}",
                f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                "--cluster.listen-address=",
            ],
        ),
    ]
