"""The audit report in a real headless browser (Debian's chromium, which `tracklog stack build` installs; this
test installs it the same way when it is missing and skips, naming the command, when it cannot).

The report is written by ``report.write`` for generated traffic (tests/audit_traffic.py: a consumer platform's
quiet logins with credential stuffing, password spraying and a spread-out account takeover mixed in) and the
findings ``audit detect`` makes of it with the shipped tracklog.yaml. Chromium then

- loads the report as written (its CSP forbids scripts and network requests): no console message at all, so
  nothing was blocked or failed, and a screenshot is kept as an artifact: ``<pytest tmp dir>/report-<period>.png``
  and, when TRACKLOG_ARTIFACTS is set, ``$TRACKLOG_ARTIFACTS/audit-report/`` (with the report.html);
- loads a copy with a probe script (allowed by its hash in the copy's CSP) that measures the laid-out page and
  writes what it saw into a ``<pre id="probe">``, read back from ``--dump-dom``: the findings summary leads,
  every chart has bars, no legend covers its title or another legend entry, no script error.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from provisioning import config
from provisioning.audit import charts, report
from provisioning.audit import detect as d
from provisioning.audit.markup import CSP
from provisioning.errors import StackError
from provisioning.stack import servers
from provisioning.timerange import TimeRange
from tests import audit_traffic as traffic
from tests.integration.conftest import ROOT

NS = traffic.NS
HOUR = 3600 * NS
T0 = 1_795_000_000 * NS
WINDOW = (1280, 2400)

PROBE = """(function () {
  const out = {errors: [], charts: []};
  try {
    const box = (el) => { const r = el.getBoundingClientRect();
      return {x: r.left, y: r.top + window.scrollY, w: r.width, h: r.height}; };
    const overlap = (a, b) => a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
    for (const svg of document.querySelectorAll('svg.chart')) {
      const title = box(svg.querySelector('.chart-title'));
      const legends = [...svg.querySelectorAll('g.legend')].map(box);
      const frame = box(svg);
      const texts = [...svg.querySelectorAll('text')].map(box);
      out.charts.push({
        title: svg.querySelector('.chart-title').textContent, unit: svg.dataset.unit,
        points: Number(svg.dataset.points),
        bars: [...svg.querySelectorAll('rect.bar')].filter((r) => r.getBBox().height > 0).length,
        legend_covers_title: legends.some((l) => overlap(l, title)),
        legends_overlap: legends.some((a, i) => legends.some((b, j) => i < j && overlap(a, b))),
        text_outside: texts.filter((t) => t.x < frame.x - 1 || t.x + t.w > frame.x + frame.w + 1).length,
        width: frame.w});
    }
    const summary = document.querySelector('#findings-summary');
    out.summary_rows = summary ? summary.tBodies[0].rows.length : 0;
    out.summary_top = summary ? box(summary).y : -1;
    out.activity_top = box(document.querySelector('#activity')).y;
    out.details_top = box(document.querySelector('#details')).y;
    const rows = [...document.querySelectorAll('tbody tr')];
    out.rows = rows.length;
    out.rows_shown = rows.filter((tr) => tr.checkVisibility()).length;
    out.page_height = document.documentElement.scrollHeight;
  } catch (e) {
    out.errors.push(String(e && e.stack || e));
  }
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();"""


def chromium() -> str:
    """Chromium's path: installed by apt-get (as `tracklog stack build` does) when missing."""
    try:
        return servers.browser()
    except StackError as exc:
        pytest.skip(f"chromium could not be installed: {exc}")


def run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
               f"--window-size={WINDOW[0]},{WINDOW[1]}", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert result.returncode == 0, f"{' '.join(command)} exited {result.returncode}: {result.stderr[-2000:]}"
    return result


def console_messages(stderr: str) -> list[str]:
    """What the page wrote to the console or had blocked (CSP violations are console messages too)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()[:24]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def keep_artifact(paths: list[Path]) -> None:
    """Copy the screenshot and the page to $TRACKLOG_ARTIFACTS/audit-report/ when that is set."""
    target = os.environ.get("TRACKLOG_ARTIFACTS")
    if target:
        out = Path(target) / "audit-report"
        out.mkdir(parents=True, exist_ok=True)
        for path in paths:
            shutil.copy2(path, out / path.name)


def write_report(tmp_path: Path, hours: int, per_hour: int, attacks: bool) -> tuple[Path, list[d.Finding]]:
    cfg = config.load(ROOT / "tracklog.yaml")
    platform = traffic.Platform.build()
    records = traffic.quiet(platform, T0, hours, logins_per_hour=per_hour)
    if attacks:
        records += (traffic.credential_stuffing(platform, T0 + hours * HOUR * 8 // 10)
                    + traffic.password_spraying(platform, T0 + hours * HOUR // 2)
                    + traffic.spread_takeover(platform, T0 + hours * HOUR * 3 // 10))
    policy = d.Policy.from_security(cfg.security)
    findings = d.detect(records, d.Thresholds.from_config(cfg.thresholds), policy, cfg.security)
    out = tmp_path / "report"
    report.write(out, records, findings, policy, TimeRange(T0, T0 + hours * HOUR), "prod", T0 + hours * HOUR,
                 "tracklog")
    return out / "report.html", findings


def probed_copy(page: Path) -> Path:
    """The page with the probe before </body>, its CSP allowing only that script (by hash)."""
    source = page.read_text(encoding="utf-8")
    assert source.count(f'content="{CSP}"') == 1
    digest = base64.b64encode(hashlib.sha256(PROBE.encode()).digest()).decode()
    probed = source.replace(f'content="{CSP}"', f"content=\"{CSP}; script-src 'sha256-{digest}'\"")
    probed = probed.replace("</body>", f"<script>{PROBE}</script></body>")
    target = page.with_name("probed.html")
    target.write_text(probed, encoding="utf-8")
    return target


def probe(binary: str, tmp_path: Path, page: Path, copy: Callable[[Path], Path] | None = None) -> dict:
    """Load the probed copy of ``page`` (made by ``copy``, default this module's probe); return what it measured."""
    probed = run_chromium(binary, tmp_path / "profile", "--dump-dom", (copy or probed_copy)(page).as_uri())
    assert console_messages(probed.stderr) == []
    found = re.search(r'<pre id="probe">(.*?)</pre>', probed.stdout, re.DOTALL)
    assert found, "the probe did not run: " + probed.stdout[-500:]
    seen = json.loads(html.unescape(found.group(1)))
    assert seen["errors"] == []
    return seen


@pytest.mark.parametrize(("period", "hours", "per_hour", "attacks", "unit", "buckets"), [
    ("quiet-day", 24, 220, False, "hour", 24),  # a normal day: ~5.8k logins, only low findings
    ("24h", 24, 220, True, "hour", 24),  # the same day with three spread-out attacks
    ("7d", 7 * 24, 30, True, "day", 7),  # a week: per day
])
def test_report_renders_in_chromium(tmp_path: Path, period: str, hours: int, per_hour: int, attacks: bool,
                                    unit: str, buckets: int) -> None:
    binary = chromium()
    page, findings = write_report(tmp_path, hours, per_hour, attacks)
    kinds = {(f.kind, f.severity) for f in findings}
    if attacks:
        assert {("credential_stuffing", "critical"), ("password_spraying", "high")} <= kinds
    else:
        assert {severity for _, severity in kinds} == {"low"}
        assert "No critical or high findings." in page.read_text(encoding="utf-8")

    # the report as written: it renders with nothing blocked and nothing logged; the screenshot is the artifact
    shot = tmp_path / f"report-{period}.png"
    shown = run_chromium(binary, tmp_path / "profile", f"--screenshot={shot}", page.as_uri())
    assert console_messages(shown.stderr) == []
    assert png_size(shot) == WINDOW
    assert shot.stat().st_size > 50_000  # a page of text and charts, not a blank one
    kept = page.with_name(f"report-{period}.html")
    shutil.copy2(page, kept)
    keep_artifact([shot, kept])
    dom = run_chromium(binary, tmp_path / "profile", "--dump-dom", page.as_uri())
    assert console_messages(dom.stderr) == []
    assert 'id="findings-summary"' in dom.stdout
    assert dom.stdout.count('class="chart"') == 2

    # the probed copy: what the laid-out page looks like
    seen = probe(binary, tmp_path, page)
    # it leads with the findings: their summary is on the first screen, before the activity and the details
    assert seen["summary_rows"] == len(kinds)
    assert 0 < seen["summary_top"] < 400
    assert seen["summary_top"] < seen["activity_top"] < seen["details_top"] < WINDOW[1]
    # thousands of logins, but the rows on show are the summaries and the critical and high findings
    assert seen["rows"] > 2000
    assert seen["rows_shown"] < 60, seen["rows_shown"]
    # two charts in the period's unit, each with its bars, its legend clear of its title and of itself
    assert [c["title"] for c in seen["charts"]] == [f"Logins per {unit} by outcome", f"Failures per {unit}"]
    for chart in seen["charts"]:
        assert chart["unit"] == unit
        assert chart["bars"] == chart["points"] >= buckets, chart
        assert not chart["legend_covers_title"], chart
        assert not chart["legends_overlap"], chart
        assert chart["text_outside"] == 0, chart
        assert chart["width"] > 800


def test_the_probe_sees_a_legend_over_the_title(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check is not vacuous: with the legend drawn on the title's row (as the report used to), it fails."""
    binary = chromium()
    monkeypatch.setattr(charts, "LEGEND_Y", charts.TITLE_Y)
    page, _ = write_report(tmp_path, 24, 30, attacks=False)
    seen = probe(binary, tmp_path, page)
    assert [c["legend_covers_title"] for c in seen["charts"]] == [True, True]
