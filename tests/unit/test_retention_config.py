"""Retention in tracklog.yaml: per log type and per service, stream rules with priorities, the archive lag, every
rejection naming its file and line, and the Loki runtime overrides they render to."""

from __future__ import annotations

import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from provisioning import cli, config
from provisioning.commands import archive as archive_command
from provisioning.errors import ConfigError
from provisioning.retention import loki_duration, overrides, render_overrides
from provisioning.timerange import NS

ROOT = Path(__file__).resolve().parents[2]
DAY = 86_400 * NS

HEAD = """\
services:
  - name: tracking-api
  - name: auth
agent:
  sources:
    - name: nginx
      path: /var/log/nginx/access.log
      labels: { service: nginx, log_type: application }
"""


def load(tmp_path: Path, body: str) -> config.Config:
    path = tmp_path / "tracklog.yaml"
    path.write_text(HEAD + textwrap.dedent(body), encoding="utf-8")
    return config.load(path)


def problems(tmp_path: Path, body: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, body)
    return caught.value.reasons


def line_of(tmp_path: Path, text: str) -> int:
    """The 1-based line of tracklog.yaml (as written by ``load``) that contains ``text``."""
    lines = (tmp_path / "tracklog.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def at(tmp_path: Path, text: str) -> str:
    return f"{tmp_path / 'tracklog.yaml'}:{line_of(tmp_path, text)}: "


def rules_of(cfg: config.Config) -> list[dict]:
    (tenant,) = overrides(cfg)["overrides"].values()
    return tenant["retention_stream"]


# -- what is accepted and rendered ---------------------------------------------------------------------------


def test_the_shipped_file_loads_with_one_rule_per_log_type_and_a_lag_shorter_than_every_archived_retention() -> None:
    cfg = config.load(ROOT / "tracklog.yaml")
    assert [r.selector for r in cfg.retention_rules] == [
        '{log_type="application"}', '{log_type="system"}', '{log_type="audit"}', '{log_type="security"}']
    assert cfg.archive.lag_seconds < min(cfg.log_types[t].retention_seconds for t in cfg.archive.log_types)


def test_a_service_rule_renders_with_its_own_selector_and_a_higher_priority_than_its_log_type(tmp_path: Path) -> None:
    cfg = load(tmp_path, """\
        log_types:
          application: { retention: 30d, services: { auth: 90d, nginx: 2w } }
          audit: { retention: 1y }
        """)
    assert rules_of(cfg) == [
        {"selector": '{log_type="application"}', "priority": 1, "period": "720h"},
        {"selector": '{log_type="application", service="auth"}', "priority": 2, "period": "2160h"},
        {"selector": '{log_type="application", service="nginx"}', "priority": 2, "period": "336h"},
        {"selector": '{log_type="system"}', "priority": 1, "period": "720h"},  # the default, 30d
        {"selector": '{log_type="audit"}', "priority": 1, "period": "8760h"},
        {"selector": '{log_type="security"}', "priority": 1, "period": "720h"},
    ]
    assert list(overrides(cfg)["overrides"]) == ["fake"]  # Loki's tenant when auth is off


def test_stream_rules_keep_their_priority_and_are_scoped_to_their_log_type(tmp_path: Path) -> None:
    cfg = load(tmp_path, """\
        endpoints: { loki: { tenant: platform } }
        log_types:
          application:
            retention: 30d
            services: { auth: 90d }
            streams:
              - { selector: '{level="debug"}', priority: 3, retention: 7d }
              - { selector: '{env=~"dev|test", service!="auth"}', priority: 4, retention: 36h }
        """)
    assert rules_of(cfg)[2:4] == [
        {"selector": '{log_type="application", level="debug"}', "priority": 3, "period": "168h"},
        {"selector": '{log_type="application", env=~"dev|test", service!="auth"}', "priority": 4, "period": "36h"},
    ]
    assert list(overrides(cfg)["overrides"]) == ["platform"]


def test_with_tenants_each_tenant_gets_the_rules_of_the_log_types_it_holds(tmp_path: Path) -> None:
    cfg = load(tmp_path, """\
        endpoints: { loki: { tenant: platform, tenants: { security: security-logs, audit: security-logs } } }
        log_types:
          application: { retention: 30d }
          security: { retention: 180d, services: { auth: 400d } }
        """)
    rendered = overrides(cfg)["overrides"]
    per_tenant = {t: [r["selector"] for r in body["retention_stream"]] for t, body in rendered.items()}
    assert per_tenant == {
        "platform": ['{log_type="application"}', '{log_type="system"}'],
        "security-logs": ['{log_type="audit"}', '{log_type="security"}', '{log_type="security", service="auth"}'],
    }


def test_the_rendered_file_is_yaml_loki_reads_and_says_what_applies_it(tmp_path: Path) -> None:
    cfg = load(tmp_path, "log_types: { security: { retention: 180d, services: { auth: 400d } } }\n")
    text = render_overrides(cfg)
    assert text.startswith("# Loki runtime overrides")
    assert "Loki 2.3 or later" in text
    assert yaml.safe_load(text) == overrides(cfg)
    out = tmp_path / "runtime.yaml"
    assert cli.main(["--config", str(tmp_path / "tracklog.yaml"), "retention", "render", "--out", str(out)]) == 0
    assert out.read_text() == text


def test_periods_are_written_in_the_largest_whole_unit() -> None:
    assert [loki_duration(s) for s in (86_400, 90_000, 86_460, 86_401)] == ["24h", "25h", "1441m", "86401s"]


def test_disjoint_selectors_may_share_a_priority(tmp_path: Path) -> None:
    cfg = load(tmp_path, """\
        log_types:
          system:
            retention: 30d
            streams:
              - { selector: '{env="prod"}', priority: 5, retention: 60d }
              - { selector: '{env="dev"}', priority: 5, retention: 2d }
              - { selector: '{env=~"stag.*"}', priority: 5, retention: 3d }
              - { selector: '{env!~"stag.*", service="auth"}', priority: 6, retention: 90d }
              - { selector: '{env="staging", service="auth"}', priority: 6, retention: 10d }
        """)
    assert len([r for r in cfg.retention_rules if r.log_type == "system"]) == 6


def test_rules_of_different_log_types_never_overlap(tmp_path: Path) -> None:
    cfg = load(tmp_path, """\
        log_types:
          application: { retention: 30d, streams: [{ selector: '{level="debug"}', priority: 3, retention: 7d }] }
          system: { retention: 30d, streams: [{ selector: '{level="debug"}', priority: 3, retention: 2d }] }
        """)
    assert [r.priority for r in cfg.retention_rules if "level" in r.selector] == [3, 3]


def test_archived_log_types_default_to_all_four(tmp_path: Path) -> None:
    cfg = load(tmp_path, "archive: { lag: 36h }\n")
    assert cfg.archive == config.ArchiveConfig(lag="36h", lag_seconds=36 * 3600, log_types=config.LOG_TYPES)
    assert config.load(ROOT / "tracklog.yaml").archive.log_types == ("audit", "security")


# -- rejections: each names file and line ------------------------------------------------------------------


def test_a_retention_under_24h_is_refused_wherever_it_is_written(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        log_types:
          application:
            retention: 23h
            services:
              auth: 12h
            streams:
              - selector: '{level="debug"}'
                priority: 3
                retention: 3600s
        """)
    assert found == [
        at(tmp_path, "retention: 23h") + "log_types.application.retention: 23h is under 24h, the shortest "
                                         "retention Loki applies",
        at(tmp_path, "auth: 12h") + "log_types.application.services.auth: 12h is under 24h, the shortest "
                                    "retention Loki applies",
        at(tmp_path, "retention: 3600s") + "log_types.application.streams[0].retention: 3600s is under 24h, the "
                                           "shortest retention Loki applies",
    ]


def test_a_retention_not_longer_than_the_archive_lag_of_an_archived_type_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        log_types:
          application: { retention: 2d }
          audit:
            retention: 3d
            services:
              auth: 2d
            streams:
              - { selector: '{level="debug"}', priority: 3, retention: 1d }
          security: { retention: 2d }
        archive:
          lag: 2d
          log_types: [audit, security]
        """)
    lag = f"archive.lag (2d, {tmp_path / 'tracklog.yaml'}:{line_of(tmp_path, 'lag: 2d')})"
    expire = "is archived, and its data would expire before it is archived"
    assert found == [
        at(tmp_path, "auth: 2d") + f"log_types.audit.services.auth: 2d is not longer than {lag}: audit {expire}",
        at(tmp_path, "priority: 3, retention: 1d") + f"log_types.audit.streams[0]: 1d is not longer than {lag}: "
                                                     f"audit {expire}",
        at(tmp_path, "security: { retention: 2d }") + f"log_types.security.retention: 2d is not longer than {lag}: "
                                                       f"security {expire}",
    ]  # application is not archived: its 2d is fine


def test_equal_priorities_of_overlapping_rules_are_refused_naming_both(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        log_types:
          application:
            retention: 30d
            services: { auth: 90d }
            streams:
              - { selector: '{level="debug"}', priority: 1, retention: 7d }
              - { selector: '{service="auth", level="info"}', priority: 2, retention: 60d }
              - { selector: '{env=~"dev|test"}', priority: 4, retention: 2d }
              - { selector: '{env=~"d.*"}', priority: 4, retention: 3d }
              - { selector: '{env="prod"}', priority: 4, retention: 3d }
        """)
    path = tmp_path / "tracklog.yaml"
    same = "and Loki would then keep the shorter retention of the two; give one a higher priority or make the " \
           "selectors exclusive"
    assert found == [
        at(tmp_path, "level=\"debug\"") + "log_types.application.streams[0]: can match the same streams as "
        f"log_types.application.retention ({path}:{line_of(tmp_path, 'retention: 30d')}) with the same priority 1, "
        + same,
        at(tmp_path, "level=\"info\"") + "log_types.application.streams[1]: can match the same streams as "
        f"log_types.application.services.auth ({path}:{line_of(tmp_path, 'auth: 90d')}) with the same priority 2, "
        + same,
        at(tmp_path, "env=~\"d.*\"") + "log_types.application.streams[3]: can match the same streams as "
        f"log_types.application.streams[2] ({path}:{line_of(tmp_path, 'dev|test')}) with the same priority 4, "
        + same,
    ]  # env="prod" matches neither regex, so it may share priority 4


@pytest.mark.parametrize("priority", ["0", "-1", "high", "true", "1.5"])
def test_a_stream_rule_needs_a_whole_positive_priority(tmp_path: Path, priority: str) -> None:
    found = problems(tmp_path, f"""\
        log_types:
          system:
            streams:
              - selector: '{{level="debug"}}'
                retention: 7d
                priority: {priority}
        """)
    assert len(found) == 1
    assert found[0].startswith(at(tmp_path, f"priority: {priority}") + "log_types.system.streams[0].priority: "
                               "needs a whole number of 1 or more")


def test_a_stream_rule_without_a_priority_is_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, "log_types: { system: { streams: [{ selector: '{level=\"debug\"}', retention: 7d }] } }")
    assert len(found) == 1
    assert found[0].startswith(at(tmp_path, "streams:") + "log_types.system.streams[0].priority: needs a whole number")


@pytest.mark.parametrize(("selector", "says"), [
    ('level="debug"', "is not a stream selector"),
    ("{}", "is not a stream selector"),
    ('{level="debug" env="dev"}', "expected a comma"),
    ("{level=debug}", "cannot read"),
    ('{log_type="audit"}', "leave log_type out"),
    ('{env=~"(dev"}', "is not a valid regular expression"),
])
def test_an_unreadable_selector_is_refused(tmp_path: Path, selector: str, says: str) -> None:
    found = problems(tmp_path, f"""\
        log_types:
          system:
            streams:
              - priority: 3
                retention: 7d
                selector: '{selector}'
        """)
    assert len(found) == 1
    assert found[0].startswith(at(tmp_path, "selector:") + "log_types.system.streams[0].selector: ")
    assert says in found[0]


def test_unknown_services_keys_and_log_types_are_refused(tmp_path: Path) -> None:
    found = problems(tmp_path, """\
        log_types:
          application:
            retention: 30d
            services: { auht: 90d, auth: { retention: 90d } }
            keep: 30d
        archive:
          lag: soon
          log_types: [audit, debug]
          schedule: daily
        """)
    assert found == [
        at(tmp_path, "keep: 30d") + "log_types.application.keep: unknown key; known: retention, services, streams",
        at(tmp_path, "auht") + "log_types.application.services.auht: unknown service; tracklog.yaml names auth, "
                               "nginx, tracking-api",
        at(tmp_path, "auht") + "log_types.application.services.auth: give the retention itself, e.g. auth: 90d "
                               "(for your own selectors and priorities, use streams)",
        at(tmp_path, "schedule") + "archive.schedule: unknown key; known: lag, log_types",
        at(tmp_path, "lag: soon") + "archive.lag: 'soon' is not a duration like 30m, 2h, 7d or 1h30m",
        at(tmp_path, "debug]") + "archive.log_types: unknown log type 'debug'; the four are application, system, "
                                 "audit, security",
    ]


# -- the archive's default end -------------------------------------------------------------------------------


class _FakeArchiver:
    requests: list = []

    def __init__(self, cfg: config.Config, request: object) -> None:
        self.requests.append(request)

    def run(self) -> SimpleNamespace:
        return SimpleNamespace(ok=True, summary=lambda: [], to_dict=dict)


NOW = 1_800_000_000 * NS


@pytest.fixture
def fake_archiver(monkeypatch: pytest.MonkeyPatch) -> list:
    _FakeArchiver.requests = []
    monkeypatch.setattr(archive_command, "Archiver", _FakeArchiver)
    monkeypatch.setattr(archive_command, "time", SimpleNamespace(time_ns=lambda: NOW))
    return _FakeArchiver.requests


def test_without_before_an_archive_run_ends_the_configured_lag_ago(tmp_path: Path, fake_archiver: list) -> None:
    load(tmp_path, "log_types: { audit: { retention: 180d } }\narchive: { lag: 2d, log_types: [audit] }\n")
    args = ["--config", str(tmp_path / "tracklog.yaml"), "archive", "--log-type", "audit"]
    assert cli.main(args) == 0
    assert cli.main([*args, "--since", "7d"]) == 0
    assert cli.main([*args, "--since", "7d", "--before", "2026-01-01"]) == 0
    default, since, explicit = fake_archiver
    assert (default.span.start_ns, default.span.end_ns) == (NOW - 182 * DAY, NOW - 2 * DAY)
    assert default.range_args == "--since 180d --before now-2d"  # names the job: a rerun resumes it
    assert (since.span.start_ns, since.span.end_ns, since.range_args) == (
        NOW - 9 * DAY, NOW - 2 * DAY, "--since 7d --before now-2d")
    assert explicit.range_args == "--since 7d --before 2026-01-01"


def test_without_a_lag_an_archive_run_ends_now(tmp_path: Path, fake_archiver: list) -> None:
    load(tmp_path, "log_types: { audit: { retention: 180d } }\n")
    assert cli.main(["--config", str(tmp_path / "tracklog.yaml"), "archive", "--log-type", "audit"]) == 0
    (request,) = fake_archiver
    assert (request.span.end_ns, request.range_args) == (NOW, "--since 180d")


def test_a_range_emptied_by_the_lag_says_so(tmp_path: Path, fake_archiver: list,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    load(tmp_path, "archive: { lag: 2d }\n")
    assert cli.main(["--config", str(tmp_path / "tracklog.yaml"), "archive", "--log-type", "audit",
                     "--after", "1d"]) == 1
    assert "--before defaults to now-2d: archive.lag in" in capsys.readouterr().err
    assert fake_archiver == []
