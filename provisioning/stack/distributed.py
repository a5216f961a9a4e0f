"""The distributed topology of the native stack: Loki 2.2.1 as separate processes on their own loopback addresses.

A distributor, three ingesters (replication factor 3), a querier and a query frontend, joined by a memberlist
ring, keeping chunks and the boltdb-shipper index in an S3 gateway (versitygw) of their own. Everything binds
addresses of one 127.0.x.0/24 loopback network (``TRACKLOG_DISTRIBUTED_NET``, default 127.0.15), so the
single-process stack on 127.0.0.1 runs beside it untouched; state, logs and pid files live in
``<state>/distributed/``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

from provisioning.config import Config
from provisioning.errors import StackError
from provisioning.stack.ring import RingMember, read_ring, wait_all_active
from provisioning.stack.runner import Stack, Status, _write_atomically, expand
from provisioning.stack.servers import Paths, Server, _built_binary, _made, read_versions, s3_credentials

DEFAULT_NET = "127.0.15"
HTTP_PORT, GRPC_PORT, MEMBERLIST_PORT, S3_PORT = 3100, 9095, 7946, 9000
BUCKET = "loki"
INGESTERS = ("ingester-1", "ingester-2", "ingester-3")
# Loki component -> (its -target, the last octet of its address). Start order: the S3 gateway, then these.
LOKI_COMPONENTS: dict[str, tuple[str, int]] = {
    "distributor": ("distributor", 10),
    "ingester-1": ("ingester", 11),
    "ingester-2": ("ingester", 12),
    "ingester-3": ("ingester", 13),
    "querier": ("querier", 20),
    "query-frontend": ("query-frontend", 30),
}
S3_OCTET = 2


@dataclass(frozen=True)
class Topology:
    """Where each process of the distributed topology listens."""

    net: str = DEFAULT_NET

    def address(self, name: str) -> str:
        octet = S3_OCTET if name == "s3" else LOKI_COMPONENTS[name][1]
        return f"{self.net}.{octet}"

    def url(self, name: str) -> str:
        return f"http://{self.address(name)}:{S3_PORT if name == 's3' else HTTP_PORT}"

    @property
    def push_url(self) -> str:
        """Where writers push: the distributor."""
        return self.url("distributor")

    @property
    def read_url(self) -> str:
        """Where readers query: the query frontend."""
        return self.url("query-frontend")

    def join_members(self) -> str:
        return ", ".join(f"{self.address(name)}:{MEMBERLIST_PORT}" for name in LOKI_COMPONENTS
                         if name != "query-frontend")


def topology_from_env() -> Topology:
    net = os.environ.get("TRACKLOG_DISTRIBUTED_NET", DEFAULT_NET).strip().rstrip(".")
    parts = net.split(".")
    if len(parts) != 3 or parts[0] != "127" or not all(p.isdigit() and 0 <= int(p) < 256 for p in parts):
        raise StackError(f"TRACKLOG_DISTRIBUTED_NET must be three octets of a loopback network (127.x.y), got {net!r}")
    if net == "127.0.0":
        raise StackError("TRACKLOG_DISTRIBUTED_NET=127.0.0 would collide with the single-process stack on 127.0.0.1")
    return Topology(net)


def distributed_servers(config: Config, topology: Topology) -> list[Server]:
    """The processes of the distributed topology, in start order (the S3 gateway first)."""
    stack_dir = config.root / "stack"
    versions = read_versions(stack_dir)
    loki = functools.cache(_built_binary(stack_dir / "build" / "loki.sh"))
    s3 = Server(
        name="s3",
        url=topology.url("s3"),
        ready_path="/health",
        version=versions.get("S3GW_VERSION", "?"),
        locate=_built_binary(stack_dir / "build" / "s3.sh"),
        arguments=lambda binary, paths: [
            binary, "--port", f"{topology.address('s3')}:{S3_PORT}", "--health", "/health", "--quiet",
            "posix", str(_made(paths.of("s3") / "data")),
        ],
        environment=lambda: {
            "ROOT_ACCESS_KEY_ID": s3_credentials(config)[0], "ROOT_SECRET_ACCESS_KEY": s3_credentials(config)[1],
        },
    )
    components = LOKI_COMPONENTS.items()
    return [s3, *(_loki_server(name, target, topology, loki, versions) for name, (target, _) in components)]


def _loki_server(name: str, target: str, topology: Topology, locate: Callable[[], str],
                 versions: dict[str, str]) -> Server:
    return Server(
        name=name,
        url=topology.url(name),
        ready_path="/ready",
        version=versions.get("LOKI_VERSION", "?"),
        version_path="/loki/api/v1/status/buildinfo",
        locate=locate,
        arguments=lambda binary, paths: [binary, f"-config.file={paths.of(name) / 'loki.yaml'}", f"-target={target}"],
    )


class DistributedStack(Stack):
    """`tracklog stack up|down|status --topology distributed`: the same runner, other processes and state."""

    def __init__(self, config: Config, ready_timeout: float = 120.0, topology: Topology | None = None) -> None:
        super().__init__(config, ready_timeout)
        self.topology = topology or topology_from_env()
        self.paths = Paths(config.stack.state_dir / "distributed")
        self.servers = distributed_servers(config, self.topology)

    def component_values(self, name: str) -> dict[str, str]:
        """The placeholders of stack/loki-distributed/loki.yaml for one Loki process."""
        access_key, secret_key = s3_credentials(self.config)
        t = self.topology
        return {
            "ADDRESS": t.address(name), "HTTP_PORT": str(HTTP_PORT), "GRPC_PORT": str(GRPC_PORT),
            "MEMBERLIST_PORT": str(MEMBERLIST_PORT), "JOIN_MEMBERS": t.join_members(), "INSTANCE_ID": name,
            "DIR": str(self.paths.of(name)), "FRONTEND_GRPC": f"{t.address('query-frontend')}:{GRPC_PORT}",
            "QUERIER_URL": t.url("querier"), "S3_ENDPOINT": f"{t.address('s3')}:{S3_PORT}", "S3_BUCKET": BUCKET,
            "S3_ACCESS_KEY": access_key, "S3_SECRET_KEY": secret_key,
        }

    def render(self, server: Server, target: Path | None = None, values: dict[str, str] | None = None) -> Path:
        target = target or self.paths.of(server.name)
        target.mkdir(parents=True, exist_ok=True)
        if server.name in LOKI_COMPONENTS:
            template = self.config.root / "stack" / "loki-distributed" / "loki.yaml"
            text = expand(template.read_text(encoding="utf-8"), values or self.component_values(server.name))
            _write_atomically(target / "loki.yaml", text)
        return target

    def compose_config(self, out_dir: Path) -> Path:
        raise StackError("the distributed topology runs natively only; docker-compose runs the single Loki")

    def up(self, only: list[str] | None = None) -> list[Status]:
        """Start the S3 gateway (and its bucket), then the Loki processes; wait until the ring has every ingester
        ACTIVE as the distributor and the querier see it."""
        names = [server.name for server in self._chosen(only)]
        if "s3" in names:
            super().up(["s3"])
            self.ensure_bucket()
        loki = [name for name in names if name != "s3"]
        if loki:
            super().up(loki)
            self.wait_ring()
        return self.status(only)

    def wait_ring(self, timeout: float | None = None) -> list[RingMember]:
        viewers = {name: self.topology.url(name) for name in ("distributor", "querier")
                   if self._running_pid(self._server(name)) is not None}
        if not viewers:
            return []
        return wait_all_active(viewers, set(INGESTERS), self.ready_timeout if timeout is None else timeout)

    def ring(self) -> list[RingMember]:
        """The ring as the distributor sees it (what decides where pushes go)."""
        return read_ring(self.topology.url("distributor"))

    def ensure_bucket(self) -> None:
        access_key, secret_key = s3_credentials(self.config)
        client = boto3.client(
            "s3", endpoint_url=self.topology.url("s3"), region_name="us-east-1", aws_access_key_id=access_key,
            aws_secret_access_key=secret_key, config=botocore.config.Config(s3={"addressing_style": "path"}),
        )
        try:
            client.create_bucket(Bucket=BUCKET)
        except botocore.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise StackError(f"cannot create bucket {BUCKET} at {self.topology.url('s3')}: {exc}") from exc

    def pid(self, name: str) -> int | None:
        """The pid of a running process of this topology (for fault tests), or None."""
        return self._running_pid(self._server(name))

    def _server(self, name: str) -> Server:
        return self._chosen([name])[0]
