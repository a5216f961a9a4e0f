"""The distributed topology's rendered Loki configs (no servers): what each process is told."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioning import config as config_module
from provisioning.errors import StackError
from provisioning.stack.distributed import INGESTERS, LOKI_COMPONENTS, DistributedStack, Topology, topology_from_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def rendered(tmp_path: Path) -> dict[str, dict]:
    stack = DistributedStack(config_module.load(ROOT / "tracklog.yaml"), topology=Topology("127.0.15"))
    out = {}
    for server in stack.servers:
        if server.name in LOKI_COMPONENTS:
            target = stack.render(server, tmp_path / server.name)
            out[server.name] = yaml.safe_load((target / "loki.yaml").read_text())
    return out


def test_each_process_binds_and_advertises_its_own_loopback_address(rendered: dict[str, dict]) -> None:
    addresses = {name: cfg["server"]["http_listen_address"] for name, cfg in rendered.items()}
    assert len(set(addresses.values())) == len(addresses)
    for name, cfg in rendered.items():
        assert addresses[name].startswith("127.0.15.")
        assert cfg["server"]["grpc_listen_address"] == addresses[name]
        assert cfg["memberlist"]["bind_addr"] == [addresses[name]]
        assert cfg["ingester"]["lifecycler"]["address"] == addresses[name]


def test_ingesters_have_their_own_ids_and_directories_and_replicate_three_times(rendered: dict[str, dict]) -> None:
    ids = [rendered[name]["ingester"]["lifecycler"]["id"] for name in INGESTERS]
    assert ids == list(INGESTERS)
    wal_dirs = {rendered[name]["ingester"]["wal"]["dir"] for name in INGESTERS}
    index_dirs = {rendered[name]["storage_config"]["boltdb_shipper"]["active_index_directory"] for name in INGESTERS}
    assert len(wal_dirs) == len(index_dirs) == 3
    assert {cfg["ingester"]["lifecycler"]["ring"]["replication_factor"] for cfg in rendered.values()} == {3}
    assert {cfg["ingester"]["lifecycler"]["ring"]["kvstore"]["store"] for cfg in rendered.values()} == {"memberlist"}


def test_storage_is_the_s3_gateway_with_the_region_it_signs_for(rendered: dict[str, dict]) -> None:
    for cfg in rendered.values():
        aws = cfg["storage_config"]["aws"]
        assert aws["endpoint"] == "127.0.15.2:9000"
        assert aws["region"] == "us-east-1"
        assert aws["s3forcepathstyle"] is True
        assert cfg["storage_config"]["boltdb_shipper"]["shared_store"] == "aws"
        assert cfg["schema_config"]["configs"][0]["object_store"] == "aws"
        assert cfg["frontend_worker"]["frontend_address"] == "127.0.15.30:9095"


def test_the_network_must_be_loopback_and_not_the_single_stacks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLOG_DISTRIBUTED_NET", "127.0.16")
    assert topology_from_env().address("distributor") == "127.0.16.10"
    for bad in ("10.0.0", "127.0.0", "127.0"):
        monkeypatch.setenv("TRACKLOG_DISTRIBUTED_NET", bad)
        with pytest.raises(StackError):
            topology_from_env()
