"""Incidents on a schedule: a DB slowdown (injected in tracking-api), a brute-force login run, a grant of admin,
and a credential-stuffing run spread over many addresses (1-3 tries each)."""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from demo.directory import (
    ACCOUNTS,
    ADMIN_ACCOUNT,
    ADMIN_ROLE,
    BRUTE_FORCE_IP,
    CRACKED_ACCOUNT,
    PROMOTED_ACCOUNT,
    USERS,
    country_of,
    password_of,
)
from demo.traffic import Client

BRUTE_FORCE_FAILURES = 40
_LEAKED_FIRST = ("alex", "sam", "chris", "kim", "robin", "maria", "peter", "sara", "tom", "nina")
_LEAKED_LAST = ("miller", "smith", "jones", "novak", "rossi", "garcia", "meyer", "dubois")
STUFFING_AGENT = "okhttp/4.12.0"  # the botnet's HTTP client
STUFFING_ADDRESSES = 40  # a botnet: 1-3 tries from each address, a breached list of mostly unknown e-mails
_BRUTE_FORCE_TARGETS = ("anna.schmidt", "jonas.weber", "lea.fischer", "paul.wagner", "admin", "root", "dispatch")
_WORDLIST = ("123456", "password", "Winter2024!", "qwerty123", "letmein", "Passw0rd", "dragon", "Summer2025",
             "welcome1", "iloveyou", "monkey", "trustno1")


@dataclass(frozen=True)
class DbSlowdown:
    """The database gets slow from ``start`` (epoch seconds) for ``duration``: ramp up, plateau, recovery."""

    start: float
    duration: float

    def severity(self, now: float | None = None) -> float:
        """0 (healthy) .. 1 (worst) at ``now``."""
        f = ((time.time() if now is None else now) - self.start) / self.duration
        if not 0.0 <= f <= 1.0:
            return 0.0
        return max(0.0, min(1.0, f / 0.2, (1.0 - f) / 0.15))

    def arg(self) -> str:
        return f"{self.start:.3f}:{self.duration:g}"

    @classmethod
    def parse(cls, text: str) -> DbSlowdown:
        start, duration = text.split(":")
        return cls(float(start), float(duration))


@dataclass(frozen=True)
class Schedule:
    """When each incident happens, in seconds after ``started`` (epoch); ``enabled=False`` is a quiet run."""

    started: float
    enabled: bool
    db_slowdown_at: float
    db_slowdown_seconds: float
    brute_force_at: float
    brute_force_seconds: float
    permission_change_at: float
    stuffing_at: float = 0.0
    stuffing_seconds: float = 30.0

    @classmethod
    def plan(cls, started: float, *, enabled: bool, first: float, gap: float, db_seconds: float,
             brute_force_seconds: float, stuffing_seconds: float = 30.0) -> Schedule:
        return cls(started, enabled, first, db_seconds, first + gap, brute_force_seconds, first + 2 * gap,
                   first + 3 * gap, stuffing_seconds)

    def db_slowdown(self) -> DbSlowdown | None:
        return DbSlowdown(self.started + self.db_slowdown_at, self.db_slowdown_seconds) if self.enabled else None

    def describe(self) -> list[str]:
        if not self.enabled:
            return ["none (--no-incidents): 5xx share stays well under 1%, no burst of failed logins"]
        return [
            f"+{self.db_slowdown_at:>4.0f}s  DB slowdown for {self.db_slowdown_seconds:.0f}s: tracking-api queries "
            "slow down and time out -> 504/500 spike",
            f"+{self.brute_force_at:>4.0f}s  brute-force logins from {BRUTE_FORCE_IP} ({country_of(BRUTE_FORCE_IP)}): "
            f"{BRUTE_FORCE_FAILURES} failures over {self.brute_force_seconds:.0f}s against several accounts, "
            f"then a success as {CRACKED_ACCOUNT}",
            f"+{self.permission_change_at:>4.0f}s  {ADMIN_ACCOUNT} grants '{ADMIN_ROLE}' to normal user "
            f"{PROMOTED_ACCOUNT}",
            f"+{self.stuffing_at:>4.0f}s  credential stuffing for {self.stuffing_seconds:.0f}s: a breached list tried "
            f"from {STUFFING_ADDRESSES} addresses, 1-3 tries each, each pair once, mostly unknown users (no address "
            "crosses the brute-force threshold)",
        ]


def brute_force(client: Client, auth_url: str, stop: threading.Event, seconds: float) -> None:
    """Many failed logins from one foreign address against several accounts, then one success."""
    names = [_BRUTE_FORCE_TARGETS[i % len(_BRUTE_FORCE_TARGETS)] for i in range(BRUTE_FORCE_FAILURES)]
    # three misses on the account it finally cracks: a "success after a run of failures" (below the lockout of 5)
    names[9] = names[20] = names[31] = CRACKED_ACCOUNT
    spacing = seconds / (BRUTE_FORCE_FAILURES + 1)
    agent = "Mozilla/5.0 (compatible; hydra)"
    for i, name in enumerate(names):
        if stop.wait(spacing):
            return
        client.call("auth", "POST", f"{auth_url}/login", {"username": name, "password": _WORDLIST[i % 12]},
                    address=BRUTE_FORCE_IP, headers={"User-Agent": agent})
    if not stop.wait(spacing):
        client.call("auth", "POST", f"{auth_url}/login",
                    {"username": CRACKED_ACCOUNT, "password": password_of(CRACKED_ACCOUNT)},
                    address=BRUTE_FORCE_IP, headers={"User-Agent": agent})


def grant_admin(client: Client, auth_url: str) -> None:
    """The admin logs in, then grants ``admin`` to a normal user (an audit event worth an alert)."""
    admin = ACCOUNTS[ADMIN_ACCOUNT]
    answer = client.call("auth", "POST", f"{auth_url}/login",
                         {"username": admin.username, "password": password_of(admin.username)}, address=admin.address)
    token = answer.get("token", "") if isinstance(answer, dict) else ""
    client.call("auth", "POST", f"{auth_url}/admin/users/{ACCOUNTS[PROMOTED_ACCOUNT].user_id}/roles",
                {"role": ADMIN_ROLE}, address=admin.address, headers={"Authorization": f"Bearer {token}"})


def breached_list(rng: random.Random, size: int) -> list[str]:
    """``size`` user names of a breached e-mail/password list from another site, each once: about 60 % are not ours,
    the rest are our users who had an account there too. The accounts the brute force targets are not among them:
    each attack's failures stay its own (an account failing from the brute-force address and a botnet's within
    minutes is a third finding, LoginAfterSpreadFailures)."""
    targeted = {*_BRUTE_FORCE_TARGETS, CRACKED_ACCOUNT}
    ours = [a.username for a in USERS if a.username not in targeted]
    rng.shuffle(ours)
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < size:
        if rng.random() < 0.6 or not ours:
            # user names, not e-mail addresses: the exporters redact e-mail addresses, so every unknown e-mail
            # would be logged as the same redacted user
            name = f"{rng.choice(_LEAKED_FIRST)}.{rng.choice(_LEAKED_LAST)}{rng.randint(1, 99)}"
        else:
            name = ours.pop()
        if name not in seen:
            seen.add(name)
            names.append(name)
    return names


def credential_stuffing(client: Client, auth_url: str, stop: threading.Event, seconds: float = 30.0) -> None:
    """A breached e-mail/password list from another site, each pair tried once, spread over many addresses with
    1-3 tries each (:func:`breached_list`)."""
    rng = random.Random(13)
    bots = [f"{rng.choice((45, 103, 154, 185, 194))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
            f"{rng.randint(1, 254)}" for _ in range(STUFFING_ADDRESSES)]
    tries = [bot for bot in bots for _ in range(rng.randint(1, 3))]
    rng.shuffle(tries)
    for address, name in zip(tries, breached_list(rng, len(tries)), strict=True):
        if stop.wait(seconds / len(tries)):
            return
        client.call("auth", "POST", f"{auth_url}/login", {"username": name, "password": rng.choice(_WORDLIST)},
                    address=address, headers={"User-Agent": STUFFING_AGENT})


def start(schedule: Schedule, client: Client, auth_url: str, stop: threading.Event) -> list[threading.Thread]:
    """Run the login incidents at their times (the DB slowdown runs inside tracking-api)."""
    if not schedule.enabled:
        return []

    def at(offset: float, action: object, *args: object) -> threading.Thread:
        def run() -> None:
            if not stop.wait(max(0.0, schedule.started + offset - time.time())):
                action(*args)  # type: ignore[operator]

        thread = threading.Thread(target=run, name=f"incident@{offset:.0f}", daemon=True)
        thread.start()
        return thread

    return [
        at(schedule.brute_force_at, brute_force, client, auth_url, stop, schedule.brute_force_seconds),
        at(schedule.permission_change_at, grant_admin, client, auth_url),
        at(schedule.stuffing_at, credential_stuffing, client, auth_url, stop, schedule.stuffing_seconds),
    ]
