"""Which alert each injected incident should fire, roughly when, and which ones did.

The rules are the bundle's own (``provisioning.review.rules``: the rendered rules with their ``for`` and evaluation
interval, from the same tracklog.yaml the stack was provisioned with), so the times follow the config. What fired is
read from Alertmanager's API, filtered to the demo's env: an alert counts as paged once Alertmanager holds it,
whichever receiver it is routed to (warnings go to e-mail, which the native stack cannot deliver).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests
import yaml

from demo.incidents import BRUTE_FORCE_FAILURES, Schedule
from provisioning.review.rules import ReviewRule

DEFAULT_GROUP_WAIT = 10.0  # Alertmanager's route group_wait when its status cannot be read
# The DB slowdown ramps up over its first 20 % and recovers over its last 15 % (incidents.DbSlowdown); queries
# start to time out (5xx) at about this share of its length, and stop at about 1 - this share.
_DB_ONSET = 0.15
_RANGE = re.compile(r"\[(\d+)([smhd])\]")
_UNIT = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Expected:
    """``alert`` should fire for ``incident``: its condition holds from ``onset`` (seconds after the demo's start)
    for about ``lasts`` seconds; it pages between ``earliest`` and ``latest``."""

    incident: str
    alert: str
    onset: float
    lasts: float
    hold: float
    interval: float
    group_wait: float

    @property
    def earliest(self) -> float:
        return self.onset + self.hold

    @property
    def latest(self) -> float:
        return self.onset + self.hold + self.interval + self.group_wait + 30.0  # 30 s: scrapes, ingestion

    @property
    def long_enough(self) -> bool:
        """The condition lasts through ``for`` and the evaluation that sees it through."""
        return self.lasts >= self.hold + self.interval

    def describe(self) -> str:
        hold = f"for {_dur(self.hold)}, " if self.hold else ""
        likely = self.earliest + self.interval / 2 + self.group_wait
        when = f"~+{likely:.0f}s (+{self.earliest:.0f}..+{self.latest:.0f}s)"
        text = f"{self.alert} ({hold}every {_dur(self.interval)}) pages {when}"
        if not self.long_enough:
            text += (f"; WILL NOT PAGE: its condition holds ~{self.lasts:.0f}s, under for + one evaluation "
                     f"({self.hold + self.interval:.0f}s)")
        return text


def _dur(seconds: float) -> str:
    return f"{seconds / 60:g}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}s"


def rate_window(rule: ReviewRule) -> float:
    """The longest range (``[5m]``) in the rule's query, seconds: how long its condition outlives the incident."""
    ranges = [int(n) * _UNIT[unit] for n, unit in _RANGE.findall(rule.query)]
    return float(max(ranges, default=0))


def expected(schedule: Schedule, rules: Iterable[ReviewRule], group_wait: float = DEFAULT_GROUP_WAIT) -> list[Expected]:
    """The alerts each incident of ``schedule`` should fire with these rules (missing rules are left out)."""
    if not schedule.enabled:
        return []
    by_name = {r.name: r for r in rules}

    def one(incident: str, alert: str, onset: float, active: float) -> list[Expected]:
        rule = by_name.get(alert)
        if rule is None:
            return []
        # a count or rate over [window] keeps holding for most of the window after the incident's last record
        lasts = active + 0.8 * rate_window(rule)
        return [Expected(incident, alert, onset, lasts, rule.hold, rule.interval, group_wait)]

    s = schedule
    db_onset = s.db_slowdown_at + _DB_ONSET * s.db_slowdown_seconds
    db_active = (1 - 2 * _DB_ONSET) * s.db_slowdown_seconds
    threshold = by_name["RepeatedFailedLogins"].threshold if "RepeatedFailedLogins" in by_name else 10
    eleventh = s.brute_force_seconds * (threshold + 1) / (BRUTE_FORCE_FAILURES + 1)  # the failure that crosses it
    return [
        *one("DB slowdown", "TrackingApiHighErrorRate", db_onset, db_active),
        *one("DB slowdown", "DatabaseTimeoutsSpiking", db_onset, db_active),
        *one("brute force", "RepeatedFailedLogins", s.brute_force_at + eleventh, s.brute_force_seconds - eleventh),
        *one("admin grant", "AdminPermissionChanged", s.permission_change_at, 0.0),
        # about half the breached list is in: enough accounts and addresses for the rule's counts
        *one("credential stuffing", "CredentialStuffing", s.stuffing_at + s.stuffing_seconds / 2,
             s.stuffing_seconds / 2),
    ]


def group_wait(alertmanager: str) -> float:
    """The top route's group_wait of the running Alertmanager, seconds (its default when it does not answer)."""
    try:
        response = requests.get(f"{alertmanager}/api/v2/status", timeout=3)
        response.raise_for_status()
        route = yaml.safe_load(response.json()["config"]["original"]).get("route", {})
        text = str(route.get("group_wait", "10s"))
        return float(sum(int(n) * _UNIT[u] for n, u in re.findall(r"(\d+)([smhd])", text)))
    except (requests.RequestException, ValueError, KeyError, AttributeError, yaml.YAMLError):
        return DEFAULT_GROUP_WAIT


@dataclass(frozen=True)
class Seen:
    alert: str
    labels: dict[str, str]
    at: float  # seconds after the demo's start that the demo first saw it in Alertmanager
    receivers: tuple[str, ...]


class AlertWatch:
    """Polls Alertmanager for the alerts of one env (active, silenced or inhibited) and keeps the first sighting of
    each label set; ``on_new`` is called with each new one."""

    def __init__(self, alertmanager: str, env: str, started: float, stop: threading.Event, every: float = 5.0,
                 on_new: Callable[[Seen], None] | None = None) -> None:
        self.url, self.env, self.started, self.stop, self.every = alertmanager, env, started, stop, every
        self.on_new = on_new
        self.seen: dict[tuple[tuple[str, str], ...], Seen] = {}
        self.error: str | None = None
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="demo-alert-watch", daemon=True)

    def start(self) -> AlertWatch:
        self._thread.start()
        return self

    def poll(self) -> None:
        try:
            response = requests.get(f"{self.url}/api/v2/alerts", timeout=5,
                                    params={"filter": f'env="{self.env}"', "silenced": "true", "inhibited": "true"})
            response.raise_for_status()
            alerts: list[dict[str, Any]] = response.json()
        except (requests.RequestException, ValueError) as exc:
            self.error = f"Alertmanager at {self.url} did not answer ({type(exc).__name__})"
            return
        self.error = None
        now = time.time() - self.started
        for alert in alerts:
            labels = alert.get("labels", {})
            key = tuple(sorted(labels.items()))
            with self._lock:
                if key in self.seen:
                    continue
                seen = Seen(labels.get("alertname", "?"), labels, now,
                            tuple(r.get("name", "?") for r in alert.get("receivers", [])))
                self.seen[key] = seen
            if self.on_new is not None:
                self.on_new(seen)

    def _run(self) -> None:
        while not self.stop.is_set():
            self.poll()
            self.stop.wait(self.every)

    def join(self, timeout: float = 6.0) -> None:
        if self._thread.is_alive():
            self._thread.join(timeout)

    def fired(self) -> list[Seen]:
        with self._lock:
            return sorted(self.seen.values(), key=lambda s: s.at)


def report(expectations: list[Expected], fired: list[Seen], elapsed: float, error: str | None = None) -> list[str]:
    """Lines: each expected alert paged (when, to whom) or not (and whether it was due), then any alert of the env
    that no incident explains."""
    first: dict[str, Seen] = {}
    for seen in fired:
        first.setdefault(seen.alert, seen)
    lines = []
    for e in expectations:
        seen = first.get(e.alert)
        if seen is not None:
            lines.append(f"  paged       {e.alert:<26} +{seen.at:.0f}s ({e.incident}; to {', '.join(seen.receivers)})")
        elif elapsed < e.latest:
            lines.append(f"  not yet     {e.alert:<26} due by +{e.latest:.0f}s ({e.incident}); the demo stopped at "
                         f"+{elapsed:.0f}s")
        else:
            lines.append(f"  NOT PAGED   {e.alert:<26} due by +{e.latest:.0f}s ({e.incident})")
    wanted = {e.alert for e in expectations}
    for seen in fired:
        if seen.alert not in wanted:
            labels = ", ".join(f'{k}="{v}"' for k, v in sorted(seen.labels.items()) if k not in ("alertname", "env"))
            lines.append(f"  unexpected  {seen.alert:<26} +{seen.at:.0f}s {{{labels}}}")
    if error:
        lines.append(f"  ({error}: what fired may be incomplete)")
    return lines
