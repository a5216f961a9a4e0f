"""`tracklog review alerts --html DIR` in a real headless browser (Debian's chromium, as the audit report's test:
its helpers are reused), on a backtest of the shipped RepeatedFailedLogins rule over login failures pushed into the
real Loki 2.2.1 with their own timestamps, one of the two brute-force runs marked as an incident.

Chromium loads the page as written (its CSP forbids scripts and network requests): nothing on the console, and a
screenshot kept as an artifact (``<pytest tmp dir>/review-alerts.png`` and, when TRACKLOG_ARTIFACTS is set,
``$TRACKLOG_ARTIFACTS/review-alerts/`` with the page); then a copy with a probe script (allowed by its hash) reports
what the laid-out chart holds: the signal's points and line, the threshold and suggested threshold inside the plot,
one band per firing and one per marked incident, at the times they happened.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from provisioning import cli
from provisioning.audit.markup import CSP
from provisioning.review import alerts_html
from tests.integration.conftest import ROOT
from tests.integration.test_audit_report_browser import chromium, console_messages, png_size, run_chromium
from tests.integration.test_audit_report_browser import probe as probe_with
from tests.integration.test_review_loki import BURSTS, NS, push_failures

WINDOW = (1280, 2400)
PROBE = """(function () {
  const out = {errors: [], charts: []};
  try {
    const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    const box = (el) => { const r = el.getBoundingClientRect();
      return {x: r.left, y: r.top, w: r.width, h: r.height}; };
    for (const svg of document.querySelectorAll('svg.chart')) {
      const plot = box(svg);
      const line = (cls) => { const el = svg.querySelector('line.' + cls); return el ? box(el) : null; };
      const paths = [...svg.querySelectorAll('path.signal')];
      const boxes = [...svg.querySelectorAll('g.legend')].map(box);
      out.charts.push({
        rule: svg.dataset.rule, points: Number(svg.dataset.points), firings: Number(svg.dataset.firings),
        incidents: Number(svg.dataset.incidents),
        path_points: paths.reduce((n, p) => n + Number(p.dataset.points), 0),
        path_length: paths.reduce((n, p) => n + p.getTotalLength(), 0),
        firing_bands: [...svg.querySelectorAll('rect.firing')].map((r) => r.querySelector('title').textContent),
        incident_bands: svg.querySelectorAll('rect.incident').length,
        threshold: line('threshold'), suggested: line('suggested'), frame: plot,
        legends: [...svg.querySelectorAll('g.legend')].map((g) => g.textContent),
        legends_overlap: boxes.some((a, i) => boxes.some((b, j) => i < j && overlap(a, b))),
        legend_covers_title: boxes.some((b) => overlap(b, box(svg.querySelector('.chart-title')))),
        legend_over_plot: boxes.some((b) => b.y + b.h > plot.y + Number(svg.dataset.plotTop) * plot.h /
                                            Number(svg.getAttribute('height')))});
    }
    out.summary_rows = document.querySelector('#rules-summary').tBodies[0].rows.length;
  } catch (e) {
    out.errors.push(String(e && e.stack || e));
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();"""


@pytest.fixture(scope="module")
def history(loki_url: str) -> tuple[str, str]:
    """Login failures of an env of its own over the last 3 hours (test_review_loki's), and the first run's window."""
    name = f"it-review-html-{time.time_ns() % 10**8}"
    now = push_failures(loki_url, name, seed=7, network="10.8")
    _, _, minutes, ago = BURSTS[0]
    start = (now - ago * 60 * NS) // NS
    incident = f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(start - 60))}/" \
               f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(start + (minutes + 6) * 60))}"
    return name, incident


def keep_artifact(paths: list[Path]) -> None:
    target = os.environ.get("TRACKLOG_ARTIFACTS")
    if target:
        out = Path(target) / "review-alerts"
        out.mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy2(path, out / path.name)


def probed_copy(page: Path) -> Path:
    source = page.read_text(encoding="utf-8")
    assert source.count(f'content="{CSP}"') == 1
    digest = base64.b64encode(hashlib.sha256(PROBE.encode()).digest()).decode()
    probed = source.replace(f'content="{CSP}"', f"content=\"{CSP}; script-src 'sha256-{digest}'\"")
    target = page.with_name("probed.html")
    target.write_text(probed.replace("</body>", f"<script>{PROBE}</script></body>"), encoding="utf-8")
    return target


def backtest_page(history: tuple[str, str], out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict]:
    env, incident = history
    code = cli.main(["--config", str(ROOT / "tracklog.yaml"), "review", "alerts", "--rule", "RepeatedFailedLogins",
                     "--since", "3h", "--match", f"env={env}", "--budget", "1/3h", "--incident", incident,
                     "--output", "json", "--html", str(out)])
    assert code == 0
    [rule] = json.loads(capsys.readouterr().out)["rules"]
    return out / "review-alerts.html", rule


def test_the_page_renders_a_chart_with_the_signal_thresholds_firings_and_incident(
        history: tuple[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = chromium()
    page, rule = backtest_page(history, tmp_path / "html", capsys)
    source = page.read_text(encoding="utf-8")
    assert "<script" not in source
    assert "http://" not in source.replace("http://www.w3.org/2000/svg", "")

    shot = tmp_path / "review-alerts.png"
    shown = run_chromium(binary, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert console_messages(shown.stderr) == []
    assert png_size(shot) == WINDOW
    assert shot.stat().st_size > 30_000  # text and a chart, not a blank page
    keep_artifact([shot, page])

    seen = probe_with(binary, tmp_path, page, probed_copy)
    assert seen["summary_rows"] == 1
    [chart] = seen["charts"]
    assert chart["rule"] == "RepeatedFailedLogins"
    # the signal: the evaluations with a value of the 5 addresses with the highest peaks (the 3 runs' each last
    # their run plus the 5m window), drawn as visible lines
    assert chart["points"] == chart["path_points"] > 20, chart
    assert chart["path_length"] > 500, chart
    # the threshold and the suggested one are horizontal lines inside the plot, the suggestion above (fewer firings)
    frame, threshold, suggested = chart["frame"], chart["threshold"], chart["suggested"]
    assert suggested is not None, rule["suggestion"]
    for line in (threshold, suggested):
        assert frame["y"] < line["y"] < frame["y"] + frame["h"]
        assert line["w"] > frame["w"] * 0.9
    assert suggested["y"] < threshold["y"]
    # a band per firing of the backtest (the two brute-force runs), and the marked incident's
    assert chart["firings"] == len(chart["firing_bands"]) == rule["backtest"]["count"] == 2
    assert sorted(b.split('"')[1] for b in chart["firing_bands"]) == ["198.51.100.9", "203.0.113.7"]
    assert chart["incidents"] == chart["incident_bands"] == 1
    assert any(legend.startswith("threshold > 10") for legend in chart["legends"])
    assert any(legend.startswith("marked incident (1)") for legend in chart["legends"])
    assert any(legend.startswith('{client_address="203.0.113.7"') for legend in chart["legends"])
    assert not chart["legends_overlap"], chart["legends"]
    assert not chart["legend_covers_title"]
    assert not chart["legend_over_plot"]


def test_the_probe_sees_legends_drawn_over_each_other(history: tuple[str, str], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The legend check is not vacuous: with the series' legend on the first row, it fails."""
    binary = chromium()
    monkeypatch.setattr(alerts_html, "ROW", 0)
    page, _ = backtest_page(history, tmp_path / "html", capsys)
    [chart] = probe_with(binary, tmp_path, page, probed_copy)["charts"]
    assert chart["legends_overlap"]
