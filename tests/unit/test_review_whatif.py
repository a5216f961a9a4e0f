"""The rules as the review reads them from the rendered bundle, what-ifs with --set, and tracklog.yaml's lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning import config
from provisioning.review import rules, whatif
from provisioning.review.suggest import ReviewError

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cfg() -> config.Config:
    return config.load(ROOT / "tracklog.yaml")


@pytest.fixture(scope="module")
def bundle(cfg: config.Config) -> list[rules.ReviewRule]:
    return rules.load(cfg)


def _line_of(key: str) -> int:
    lines = (ROOT / "tracklog.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.strip().startswith(f"{key}:"))


def test_every_ruler_rule_is_reviewed_with_its_query_and_threshold_apart(bundle: list[rules.ReviewRule]) -> None:
    by_title = {r.title: r for r in bundle}
    error_rate = by_title["TrackingApiHighErrorRate"]
    assert (error_rate.datasource, error_rate.op, error_rate.hold, error_rate.interval) == ("prometheus", ">", 300, 60)
    assert error_rate.expr == f"{error_rate.query} > {error_rate.threshold:g}"
    assert by_title["RepeatedFailedLogins"].datasource == "loki"
    assert len([r for r in bundle if r.name == "ServiceStoppedLogging"]) == 4
    for r in bundle:  # what the rulers run is the query compared with the threshold
        assert r.expr.startswith((r.query, f"({r.query})"))


def test_composite_rules_are_told_apart(bundle: list[rules.ReviewRule]) -> None:
    composite = {r.name for r in bundle if r.composite}
    assert composite == {"CredentialStuffing", "PasswordSpraying", "AuthFailureSurge", "LoginAfterSpreadFailures"}


def test_set_changes_a_copy_and_names_the_line(cfg: config.Config, bundle: list[rules.ReviewRule]) -> None:
    tried, [change] = whatif.apply(cfg, ["thresholds.api_error_rate_percent=2.5"])
    assert change.key.line == _line_of("api_error_rate_percent")
    assert (change.key.value, change.new) == (1, 2.5)
    assert cfg.thresholds.api_error_rate_percent == 1  # the loaded config is untouched
    assert tried.thresholds.api_error_rate_percent == 2.5
    assert whatif.changed_rules(bundle, rules.load(tried)) == {"TrackingApiHighErrorRate"}


def test_set_refuses_unknown_keys(cfg: config.Config) -> None:
    with pytest.raises(ReviewError, match=r"has no thresholds\.nope"):
        whatif.apply(cfg, ["thresholds.nope=1"])
    with pytest.raises(ReviewError, match=r"KEY\.PATH=VALUE"):
        whatif.apply(cfg, ["thresholds.api_error_rate_percent"])
    with pytest.raises(ReviewError, match="not a mapping"):
        whatif.apply(cfg, ["project.x=1"])


def test_each_threshold_is_traced_to_its_key(cfg: config.Config) -> None:
    keys = whatif.threshold_keys(cfg)
    assert keys["TrackingApiHighErrorRate"].path == "thresholds.api_error_rate_percent"
    assert keys["RepeatedFailedLogins"].path == "thresholds.failed_logins_per_ip"
    assert keys["RepeatedFailedLogins"].line == _line_of("failed_logins_per_ip")
    assert "CredentialStuffing" not in keys  # its threshold is a constant 0; its numbers are inside the query
