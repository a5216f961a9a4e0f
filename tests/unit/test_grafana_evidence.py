"""tracklog's model of Grafana checked against Grafana's own evidence, and the look-alike checked against it too.

Both tracklog (provisioning/grafana) and the look-alike (tests/grafana_lookalike) encode what Grafana does on save;
here each is held to Grafana's integration-test fixtures and notifier snapshot (../shared/grafana-reference), so
neither can merely agree with the other. Every rendered dashboard also has to survive Grafana's own typed dashboard
model (grafana-foundation-sdk, generated from Grafana's schemas) without losing a field.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from provisioning import config
from provisioning.grafana import normalize
from provisioning.grafana.notifications import SECURE_SETTINGS
from provisioning.render import render
from tests.grafana_lookalike import evidence
from tests.grafana_lookalike.state import Grafana, format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(evidence.reference_dir() is None, reason=evidence.MISSING)
PAIRS = (1, 2, 3)  # rulegroup-N-post.json was POSTed by Grafana's test, rulegroup-N-get.json is what it read back


def _pair(n: int) -> tuple[dict, dict]:
    return evidence.load_json(f"rulegroup-{n}-post.json"), evidence.load_json(f"rulegroup-{n}-get.json")


@pytest.mark.parametrize("n", PAIRS)
def test_tracklogs_normalised_query_is_what_grafana_read_back(n):
    """normalize.query, given what Grafana's test sent, gives what Grafana answered (its own fixture pair)."""
    sent, read = _pair(n)
    for posted, got in zip(sent["rules"], read["rules"], strict=True):
        for q_sent, q_got in zip(posted["grafana_alert"]["data"], got["grafana_alert"]["data"], strict=True):
            assert normalize.query(q_sent) == normalize.query(q_got) == q_got


@pytest.mark.parametrize("n", PAIRS)
def test_tracklogs_duration_form_is_grafanas(n):
    sent, read = _pair(n)
    for posted, got in zip(sent["rules"], read["rules"], strict=True):
        assert normalize.duration(posted["for"]) == got["for"]
        assert normalize.duration(posted.get("keep_firing_for")) == got["keep_firing_for"]  # "0s" when not sent


@pytest.mark.parametrize("version", ["11.3.0", "12.0.0"])
@pytest.mark.parametrize("n", PAIRS)
def test_the_lookalike_stores_a_rule_as_grafanas_fixture_shows(n, version):
    """The look-alike, fed Grafana's POST fixture through the provisioning shape, answers the queries, durations and
    rule fields of Grafana's GET fixture; keep_firing_for only on 12.x, whose fixtures carry it."""
    sent, read = _pair(n)
    grafana = Grafana(version)
    grafana.org.folders["f"] = {"id": 1, "title": "F", "version": 1}
    rules = []
    for i, posted in enumerate(sent["rules"]):
        alert = posted["grafana_alert"]
        rules.append({"uid": f"r{i}", "title": alert["title"], "condition": alert["condition"],
                      "data": copy.deepcopy(alert["data"]), "noDataState": alert["no_data_state"],
                      "execErrState": alert["exec_err_state"], "for": posted["for"],
                      "labels": posted.get("labels"), "annotations": posted.get("annotations"),
                      "missingSeriesEvalsToResolve": alert.get("missing_series_evals_to_resolve")})
    grafana.put_rule_group("f", sent["name"], {"title": sent["name"], "interval": 60, "rules": rules},
                           disable_provenance=False)
    stored = grafana.get_rule_group("f", sent["name"])
    for rule, got in zip(stored["rules"], read["rules"], strict=True):
        alert = got["grafana_alert"]
        assert rule["data"] == alert["data"]
        assert (rule["for"], rule["title"], rule["condition"]) == (got["for"], alert["title"], alert["condition"])
        assert (rule["labels"], rule["annotations"]) == (got["labels"], got["annotations"])
        assert rule["isPaused"] is alert["is_paused"]
        assert rule.get("missingSeriesEvalsToResolve") == alert.get("missing_series_evals_to_resolve")
        assert rule.get("keep_firing_for") == (got["keep_firing_for"] if version.startswith("12") else None)
    assert stored["interval"] == read["rules"][0]["grafana_alert"]["intervalSeconds"]


def test_tracklogs_secure_settings_are_those_grafanas_notifier_snapshot_marks_secure():
    """What tracklog fingerprints instead of comparing (Grafana answers "[REDACTED]") is what Grafana keeps secure."""
    snapshot = evidence.secure_settings()
    for kind, fields in SECURE_SETTINGS.items():
        assert set(fields) == {f for f in snapshot[kind] if "." not in f}, kind
    assert "url" in snapshot["slack"]
    assert "url" not in snapshot["webhook"]  # why a webhook URL is compared in clear


@pytest.mark.parametrize("text", ["0", "0s", "0m", "30s", "90s", "5m", "300s", "1h", "90m", "1h30m", "24h", "1d",
                                  "7d", "1w", "1500ms", "2h0m0s"])
def test_tracklog_and_the_lookalike_print_durations_alike(text):
    assert normalize.duration(text) == format_duration(parse_duration(text))


# --- dashboards in Grafana's own typed model ---------------------------------------------------------------

# Fields Grafana's dashboard schema does not model, and why losing them is harmless.
NOT_IN_GRAFANAS_SCHEMA = {
    # A query variable's `definition` is the text Grafana's variable editor shows for its query; the frontend
    # rebuilds it from `query`, and the schema's VariableModel has no such field.
    "definition",
}


def _lost(before, after, path=""):
    if isinstance(before, dict):
        if not isinstance(after, dict):
            return [f"{path}: became {type(after).__name__}"]
        out = []
        for key, value in before.items():
            if key not in after:
                if key not in NOT_IN_GRAFANAS_SCHEMA:
                    out.append(f"{path}/{key}")
            else:
                out += _lost(value, after[key], f"{path}/{key}")
        return out
    if isinstance(before, list):
        if not isinstance(after, list) or len(before) != len(after):
            return [f"{path}: list changed"]
        return [p for i, (b, a) in enumerate(zip(before, after, strict=True)) for p in _lost(b, a, f"{path}[{i}]")]
    return [] if before == after else [f"{path}: {before!r} -> {after!r}"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(config.load(ROOT / "tracklog.yaml"), out_dir=tmp_path_factory.mktemp("build"))


def test_every_dashboard_loads_into_grafanas_typed_model_without_losing_a_field(rendered):
    from grafana_foundation_sdk.cog import encoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    assert rendered.dashboards
    for name, dashboard in rendered.dashboards.items():
        model = Dashboard.from_json(copy.deepcopy(dashboard))
        back = json.loads(json.dumps(model, cls=encoder.JSONEncoder))
        assert _lost(dashboard, back) == [], name
        assert [p.get("id") for p in back["panels"]] == [p.get("id") for p in dashboard["panels"]]


def test_a_field_grafanas_model_does_not_know_would_be_reported():
    from grafana_foundation_sdk.cog import encoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    odd = {"title": "x", "uid": "x", "panels": [], "schemaVersion": 39, "refreshh": "5s"}
    back = json.loads(json.dumps(Dashboard.from_json(copy.deepcopy(odd)), cls=encoder.JSONEncoder))
    assert _lost(odd, back) == ["/refreshh"]
