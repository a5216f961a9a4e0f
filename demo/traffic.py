"""Realistic HTTP traffic over a time-compressed day: users on the map, couriers posting, logins, dispatch."""

from __future__ import annotations

import math
import queue
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from demo.directory import COURIERS, ORDERS, USERS, Account, courier_of, password_of

COURIER_INTERVAL_SIM_MINUTES = 4.0  # each active courier posts its location this often (simulated time) ...
COURIER_MIN_INTERVAL_S = 3.0  # ... but never more often than this (real time), so short days stay light


def load_factor(hour: float) -> float:
    """Relative load at a time of day: low overnight, a lunchtime peak ~3x the daytime level, an evening peak."""
    day = _smooth(6.0, 9.0, hour) * (1.0 - _smooth(21.0, 24.0, hour))
    lunch = 2.0 * math.exp(-((hour - 12.75) ** 2) / 2.0)
    evening = 1.4 * math.exp(-((hour - 19.0) ** 2) / 2.9)
    return 0.12 + 0.88 * day + lunch + evening


def _smooth(lo: float, hi: float, x: float) -> float:
    t = max(0.0, min(1.0, (x - lo) / (hi - lo)))
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class SimClock:
    """Maps real seconds since ``started`` to the simulated hour of day (one day per ``day_seconds``)."""

    started: float
    day_seconds: float
    start_hour: float = 6.0

    def hour(self, now: float | None = None) -> float:
        elapsed = (time.time() if now is None else now) - self.started
        return (self.start_hour + 24.0 * elapsed / self.day_seconds) % 24.0

    def label(self, now: float | None = None) -> str:
        hour = self.hour(now)
        return f"{int(hour):02d}:{int(hour % 1 * 60):02d}"

    def real_seconds(self, sim_minutes: float) -> float:
        return sim_minutes * 60.0 * self.day_seconds / 86400.0


class Client:
    """HTTP calls with per-service counts of outcomes; never raises (failures are counted)."""

    def __init__(self, timeout: float = 6.0) -> None:
        self.timeout = timeout
        self.counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def call(self, service: str, method: str, url: str, body: dict[str, Any] | None = None, *,
             address: str | None = None, user: str | None = None, headers: dict[str, str] | None = None) -> Any:
        sent = dict(headers or {})
        if address:
            sent["X-Forwarded-For"] = address
        if user:
            sent["X-User-ID"] = user
        try:
            response = requests.request(method, url, json=body, headers=sent, timeout=(2.0, self.timeout))
            outcome = f"{response.status_code // 100}xx"
        except requests.RequestException as exc:
            self._count(service, type(exc).__name__)
            return None
        self._count(service, outcome)
        try:
            return response.json()
        except ValueError:
            return None

    def _count(self, service: str, outcome: str) -> None:
        with self._lock:
            self.counts[(service, outcome)] += 1

    def summary(self) -> dict[str, Counter[str]]:
        with self._lock:
            items = list(self.counts.items())
        out: dict[str, Counter[str]] = {}
        for (service, outcome), n in items:
            out.setdefault(service, Counter())[outcome] += n
        return out


class Traffic:
    """Poisson arrivals whose rates follow :func:`load_factor`, executed by a pool of worker threads."""

    def __init__(self, urls: dict[str, str], clock: SimClock, client: Client, stop: threading.Event,
                 rate: float = 1.0, seed: int | None = None, workers: int = 32) -> None:
        self.urls, self.clock, self.client, self.stop = urls, clock, client, stop
        self.rng = random.Random(seed)
        self.rates = {"ui": 2.5 * rate, "api": 1.2 * rate, "login": 0.4 * rate}  # per second at load 1.0
        self.tasks: queue.Queue[Callable[[], None]] = queue.Queue(maxsize=400)
        self.workers = workers
        self.shed = 0  # arrivals dropped because the services are too slow to keep up (during incidents)
        self.courier_interval = max(COURIER_MIN_INTERVAL_S, clock.real_seconds(COURIER_INTERVAL_SIM_MINUTES))
        self._couriers_due = {c: 0.0 for c in COURIERS}
        self._positions = {c: (52.52 + self.rng.uniform(-0.08, 0.08), 13.40 + self.rng.uniform(-0.12, 0.12))
                           for c in COURIERS}

    def start(self) -> list[threading.Thread]:
        threads = [threading.Thread(target=self._work, name=f"traffic-{i}", daemon=True) for i in range(self.workers)]
        threads.append(threading.Thread(target=self._schedule, name="traffic-scheduler", daemon=True))
        for thread in threads:
            thread.start()
        return threads

    def _schedule(self) -> None:
        streams = {"ui": self.ui_action, "api": self.api_call, "login": self.login}
        due = dict.fromkeys(streams, time.monotonic())
        while not self.stop.wait(0.05):
            now, load = time.monotonic(), load_factor(self.clock.hour())
            for name, action in streams.items():
                while due[name] <= now:
                    self._submit(action)
                    due[name] += self.rng.expovariate(max(self.rates[name] * load, 1e-3))
            self._couriers(now, load)

    def _couriers(self, now: float, load: float) -> None:
        active = max(2, round(len(COURIERS) * min(1.0, 0.15 + load / 2.5)))
        for courier in COURIERS[:active]:
            if self._couriers_due[courier] == 0.0:
                self._couriers_due[courier] = now + self.rng.uniform(0, self.courier_interval)
            elif self._couriers_due[courier] <= now:
                self._couriers_due[courier] = now + self.courier_interval * self.rng.uniform(0.9, 1.1)
                self._submit(lambda c=courier: self.courier_post(c))
        for courier in COURIERS[active:]:
            self._couriers_due[courier] = 0.0  # off shift

    def _submit(self, task: Callable[[], None]) -> None:
        try:
            self.tasks.put_nowait(task)
        except queue.Full:
            self.shed += 1

    def _work(self) -> None:
        while not self.stop.is_set():
            try:
                task = self.tasks.get(timeout=0.2)
            except queue.Empty:
                continue
            if not self.stop.is_set():
                task()

    # --- what users, apps and couriers do -------------------------------------------------------------------

    def _user(self) -> Account:
        return self.rng.choice(USERS)

    def _order(self) -> str:
        if self.rng.random() < 0.004:
            return f"o-{self.rng.randint(90000, 99999)}"  # a stale link: 404
        return self.rng.choice(ORDERS)

    def ui_action(self) -> None:
        """The tracking UI: open the map, refresh it, or change location settings (through the web backend)."""
        user, roll, web = self._user(), self.rng.random(), self.urls["web"]
        if roll < 0.01:  # a curious user tries the admin page: 403 (an access violation)
            self.client.call("web", "GET", f"{web}/api/admin/couriers", address=user.address, user=user.user_id)
        elif roll < 0.4:
            self.client.call("web", "GET", f"{web}/api/orders/{self._order()}/map", address=user.address,
                             user=user.user_id)
        elif roll < 0.93:
            self.client.call("web", "GET", f"{web}/api/orders/{self._order()}/refresh", address=user.address,
                             user=user.user_id)
        else:
            settings = {"share_location": self.rng.random() < 0.7, "precision": self.rng.choice(["exact", "area"])}
            self.client.call("web", "PUT", f"{web}/api/users/me/location-settings", settings, address=user.address,
                             user=user.user_id)

    def api_call(self) -> None:
        """Mobile apps and the dispatch system calling the tracking API directly."""
        api, roll, order = self.urls["tracking-api"], self.rng.random(), self._order()
        if roll < 0.55:
            self.client.call("tracking-api", "GET", f"{api}/orders/{order}/track", address=self._user().address)
        elif roll < 0.8:
            self.client.call("tracking-api", "GET", f"{api}/couriers/{courier_of(order)}/location",
                             address="10.40.0.12")
        else:
            self.client.call("tracking-api", "POST", f"{api}/orders/{order}/eta",
                             {"eta_minutes": self.rng.randint(3, 45), "source": "dispatch"}, address="10.40.0.12")

    def login(self) -> None:
        """Users signing in: mostly right, sometimes a typo in the password or the name."""
        user, roll = self._user(), self.rng.random()
        name, password = user.username, password_of(user.username)
        if roll < 0.04:
            password = password.lower()
        elif roll < 0.05:
            name = name.replace(".", "")
        self.client.call("auth", "POST", f"{self.urls['auth']}/login", {"username": name, "password": password},
                         address=user.address)

    def courier_post(self, courier: str) -> None:
        lat, lon = self._positions[courier]
        lat, lon = lat + self.rng.gauss(0, 0.0015), lon + self.rng.gauss(0, 0.002)
        self._positions[courier] = (lat, lon)
        body: dict[str, Any] = {"lat": round(lat, 6), "lon": round(lon, 6), "ts": round(time.time(), 3),
                                "accuracy_m": round(self.rng.uniform(3, 25), 1),
                                "speed_mps": round(abs(self.rng.gauss(4, 2)), 1)}
        glitch = self.rng.random()
        if glitch < 0.006:
            body.update(lat=0.0, lon=0.0)  # GPS cold start: null island
        elif glitch < 0.010:
            body["accuracy_m"] = -1.0
        elif glitch < 0.013:
            body["ts"] = round(time.time() + 3600, 3)  # device clock an hour ahead
        self.client.call("courier-ingest", "POST", f"{self.urls['courier-ingest']}/couriers/{courier}/location", body,
                         address=f"10.60.{int(courier[2:]) % 250}.{int(courier[2:]) % 200 + 2}")
