"""security: populations, detection scopes and attack thresholds from tracklog.yaml, errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from provisioning import config
from provisioning.errors import ConfigError
from provisioning.securityconfig import SecurityConfig
from provisioning.timerange import NS
from tests.integration.conftest import ROOT


def load(tmp_path: Path, security: str) -> SecurityConfig:
    path = tmp_path / "tracklog.yaml"
    path.write_text("project: p\nsecurity:\n" + security)
    raw = yaml.load(path.read_text(), Loader=config._LineLoader)
    return SecurityConfig.from_raw(raw, path)


def test_the_shipped_file() -> None:
    cfg = config.load(ROOT / "tracklog.yaml")
    sec = cfg.security
    assert [p.name for p in sec.populations] == ["admins", "staff", "couriers", "customers"]
    assert sec.scope("login_outside_networks").populations == {"admins", "staff"}
    assert sec.attacks.window_ns == 600 * NS
    assert sec.attacks.surge_baseline_ns == 6 * 3600 * NS
    assert sec.lookback_ns == 30 * 86400 * NS
    assert sec.population_of({"user.id": "u-1", "user.roles": "support"}) == "staff"
    assert sec.population_of({"user.id": "s-12"}) == "staff"
    assert sec.population_of({"user.id": "xs-12"}) == "customers"  # user_ids match the whole id
    assert sec.population_of({"user.id": "u-1", "user.roles": ["customer", "admin"]}) == "admins"


def test_without_populations_admins_come_from_admin_roles(tmp_path: Path) -> None:
    sec = load(tmp_path, "  admin_roles: [root]\n")
    assert sec.population_of({"user.roles": ["root"]}) == "admins"
    assert sec.population_of({"user.id": "x"}) == "customers"
    assert sec.applies("new_user_agent", {"user.roles": "root"})
    assert not sec.applies("login_outside_networks", {"user.id": "x"})


def test_lists_by_user_id_or_name(tmp_path: Path) -> None:
    sec = load(tmp_path, "  populations:\n    - { name: vip, users: [ops.lead, u-7] }\n    - { name: rest }\n")
    assert sec.population_of({"user.id": "u-1", "user.name": "ops.lead"}) == "vip"
    assert sec.population_of({"user.id": "u-7"}) == "vip"
    assert sec.population_of({"user.id": "u-8"}) == "rest"


def test_every_problem_is_named_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_path, "\n".join([
            "  populations:",
            "    - { name: admins, roles: [admin] }",  # line 4
            "    - { name: everyone }",
            "    - { name: bots, user_ids: ['(unclosed'] }",  # line 6: after a catch-all, bad regex
            "  detections:",
            "    new_country: { populations: [admins, ghosts], severity: urgent }",  # line 8
            "    login_outside_networks: { lookback: 3d }",  # line 9
            "    sixth_sense: {}",  # line 10
            "  attacks:",
            "    window: soon",  # line 12
            "    credential_stuffing: { accounts: 0, unknown_user_share: 2 }",  # line 13
            "    failure_surge: { baseline: 5m, guesses: 3 }",  # line 14
            ""]))
    text = str(err.value)
    for line, words in [(6, "takes everyone"), (6, "not a regex"), (8, "ghosts"), (8, "urgent"), (9, "look-back"),
                        (10, "unknown detection"), (12, "window"), (13, "positive"), (13, "between 0 and 1"),
                        (14, "unknown threshold")]:
        assert any(f"tracklog.yaml:{line}:" in reason and words in reason for reason in err.value.reasons), \
            (line, words, text)
    with pytest.raises(ConfigError, match=r"tracklog.yaml:5: security.attacks.failure_surge.baseline: must be longer"):
        load(tmp_path, "  attacks:\n    window: 10m\n    failure_surge: { baseline: 5m }\n")
