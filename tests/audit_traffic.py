"""Login traffic of a consumer delivery platform, as security records with explicit times (deterministic).

A quiet stretch: customers and couriers logging in from residential and mobile addresses in the platform's
countries (mobile carriers put many customers behind one address), mistyped passwords and e-mail addresses,
forgotten passwords, a few travelling customers, staff from the office network and admins from the VPN.
And the spread-out attacks at the scale real attackers use (dozens to hundreds of addresses, 1-3 attempts
each), to mix into it. Every record is what ``exporters.schema.login_attempt`` writes, plus ``_ts_ns``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

NS = 10**9
HOME = ("DE", "AT", "CH", "NL", "FR")
ABROAD = ("ES", "IT", "PT", "US", "GR")
BROWSERS = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0",
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) Safari/605.1.15",
            "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile", "DeliveryApp/5.2 (iPhone; iOS 17.5)",
            "DeliveryApp/5.2 (Android 14)")
ADMIN_AGENT = "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
BOT_AGENTS = ("python-requests/2.31", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0", "okhttp/4.12")


@dataclass
class Account:
    user_id: str
    roles: tuple[str, ...]
    country: str
    home: str
    mobile: str
    agent: str


@dataclass
class Platform:
    """The accounts of the quiet stretch; attacks target them (and names that do not exist)."""

    rng: random.Random
    customers: list[Account] = field(default_factory=list)
    couriers: list[Account] = field(default_factory=list)
    staff: list[Account] = field(default_factory=list)
    admins: list[Account] = field(default_factory=list)

    @classmethod
    def build(cls, seed: int = 7, customers: int = 3000, couriers: int = 300) -> Platform:
        rng = random.Random(seed)
        p = cls(rng)
        carriers = [f"{rng.randint(80, 95)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
                    for _ in range(40)]  # mobile carriers' NAT addresses, shared by many users
        for i in range(customers):
            country = rng.choices(HOME, weights=(50, 12, 10, 15, 13))[0]
            p.customers.append(Account(f"u-{100000 + i}", ("customer",), country, _residential(rng),
                                       rng.choice(carriers), rng.choice(BROWSERS)))
        for i in range(couriers):
            p.couriers.append(Account(f"c-{5000 + i}", ("courier",), rng.choice(HOME), _residential(rng),
                                      rng.choice(carriers), "CourierApp/3.1 (Android 13)"))
        for i in range(20):
            p.staff.append(Account(f"s-{i + 10}", ("support",), "DE", f"203.0.113.{10 + i}", f"203.0.113.{10 + i}",
                                   rng.choice(BROWSERS[:2])))
        for i in range(3):
            p.admins.append(Account(f"a-{i + 1}", ("admin",), "DE", f"10.20.0.{5 + i}", f"10.20.0.{5 + i}",
                                    ADMIN_AGENT))
        return p


def _residential(rng: random.Random) -> str:
    return f"{rng.choice((31, 46, 62, 77, 84, 87, 91, 93, 178, 188, 212, 217))}.{rng.randint(0, 255)}." \
           f"{rng.randint(0, 255)}.{rng.randint(1, 254)}"


def login(at_ns: int, account: Account | None, outcome: str, address: str, country: str, agent: str,
          reason: str | None = None, user_id: str | None = None) -> dict[str, Any]:
    record: dict[str, Any] = {
        "_ts_ns": at_ns, "level": "info" if outcome == "success" else "warning",
        "log_type": "security", "service": "auth", "event.name": "auth.login",
        "message": f"login {outcome} for {user_id or (account.user_id if account else '-')}",
        "user.id": user_id or (account.user_id if account else "-"), "auth.outcome": outcome,
        "client.address": address, "client.geo.country_iso_code": country, "user_agent.original": agent}
    if account is not None:
        record["user.roles"] = list(account.roles)
    if reason:
        record["auth.reason"] = reason
    return record


def _session(rng: random.Random, at: int, account: Account, address: str, country: str) -> list[dict[str, Any]]:
    """One person logging in: usually at once; sometimes after typos (same address, seconds apart)."""
    out = []
    roll = rng.random()
    typos = 3 if roll < 0.004 else 2 if roll < 0.015 else 1 if roll < 0.07 else 0
    for _ in range(typos):
        out.append(login(at, account, "failure", address, country, account.agent, "bad_password"))
        at += rng.randint(4, 40) * NS
    if rng.random() < 0.015:  # a mistyped e-mail address: an unknown user, then the right one
        out.append(login(at, None, "failure", address, country, account.agent, "unknown_user",
                         user_id=f"{account.user_id}x"))
        at += rng.randint(5, 30) * NS
    if rng.random() < 0.004:  # forgot the password: gives up (password reset)
        return out
    out.append(login(at, account, "success", address, country, account.agent))
    return out


def quiet(platform: Platform, start_ns: int, hours: float, logins_per_hour: int = 220) -> list[dict[str, Any]]:
    """Every login of a quiet stretch of ``hours`` from ``start_ns``, oldest first."""
    rng = platform.rng
    records: list[dict[str, Any]] = []
    sessions = int(hours * logins_per_hour)
    travellers = set(rng.sample(range(len(platform.customers)), 6))
    leave = start_ns + int(hours * 3600 * NS / 2)  # travellers are abroad from the middle of the stretch
    for _ in range(sessions):
        at = start_ns + int(rng.random() * hours * 3600 * NS)
        roll = rng.random()
        if roll < 0.86:
            index = rng.randrange(len(platform.customers))
            account = platform.customers[index]
            address = account.home if rng.random() < 0.6 else account.mobile
            country = account.country
            if index in travellers and leave - 3 * 3600 * NS < at < leave:
                continue  # on the way
            if index in travellers and at >= leave:
                country = ABROAD[index % len(ABROAD)]  # on holiday since the middle of the stretch
                address = f"{150 + index % 50}.{index % 200}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        elif roll < 0.985:
            account = rng.choice(platform.couriers)
            address, country = account.mobile, account.country
        elif roll < 0.998:
            account = rng.choice(platform.staff)
            address, country = account.home, "DE"
        else:
            account = rng.choice(platform.admins)
            address, country = account.home, "DE"
        records.extend(_session(rng, at, account, address, country))
    for index in travellers:  # each traveller logs in at home before leaving
        account = platform.customers[index]
        home_ns = start_ns + rng.randint(0, max(1, int((leave - start_ns) / NS) - 3 * 3600)) * NS
        records.extend(_session(rng, home_ns, account, account.home, account.country))
    return sorted(records, key=lambda r: r["_ts_ns"])


def _bot_addresses(rng: random.Random, n: int) -> list[tuple[str, str]]:
    countries = ("US", "BR", "VN", "RU", "IN", "ID", "DE", "NL", "FR", "UA")
    return [(f"{rng.choice((5, 23, 45, 103, 154, 185, 194))}.{rng.randint(0, 255)}.{rng.randint(0, 255)}."
             f"{rng.randint(1, 254)}", rng.choice(countries)) for _ in range(n)]


def _spread(rng: random.Random, start_ns: int, minutes: float, n: int) -> list[int]:
    return sorted(start_ns + int(rng.random() * minutes * 60 * NS) for _ in range(n))


def credential_stuffing(platform: Platform, start_ns: int, addresses: int = 120, minutes: float = 8,
                        cracked: int = 2) -> list[dict[str, Any]]:
    """Breached e-mail/password pairs from another site tried from many addresses, 1-3 each: most names
    are not ours (unknown users), some are, with their old passwords; ``cracked`` of them still work."""
    rng = platform.rng
    bots = _bot_addresses(rng, addresses)
    tries = [bot for bot in bots for _ in range(rng.randint(1, 3))]
    rng.shuffle(tries)
    tries.sort(key=lambda bot: tries.count(bot) == 1)  # the cracked ones come from addresses that try more
    times = _spread(rng, start_ns, minutes, len(tries))
    out = []
    for i, ((address, country), at) in enumerate(zip(tries, times, strict=True)):
        agent = rng.choice(BOT_AGENTS)
        if i >= cracked and rng.random() < 0.6:
            out.append(login(at, None, "failure", address, country, agent, "unknown_user",
                             user_id=f"leak{rng.randint(0, 10**6)}@mail.example"))
        elif i < cracked and tries.count((address, country)) > 1:
            out.append(login(at, rng.choice(platform.customers), "success", address, country, agent))
        else:
            out.append(login(at, rng.choice(platform.customers), "failure", address, country, agent, "bad_password"))
    return out


def password_spraying(platform: Platform, start_ns: int, addresses: int = 60, accounts: int = 100,
                      minutes: float = 8) -> list[dict[str, Any]]:
    """A few common passwords against many real accounts (enumerated before), one try per account and
    password, from dozens of addresses with 1-3 attempts each."""
    rng = platform.rng
    bots = _bot_addresses(rng, addresses)
    targets = rng.sample(platform.customers + platform.couriers, accounts)
    tries = [bot for bot in bots for _ in range(rng.randint(1, 3))]
    while len(tries) < accounts:
        tries.append(rng.choice(bots))
    times = _spread(rng, start_ns, minutes, len(tries))
    return [login(at, targets[i % accounts], "failure", address, country, rng.choice(BOT_AGENTS), "bad_password")
            for i, ((address, country), at) in enumerate(zip(tries, times, strict=True))]


def targeted_guessing(platform: Platform, start_ns: int, addresses: int = 80, accounts: int = 8,
                      minutes: float = 8) -> list[dict[str, Any]]:
    """A botnet guessing the passwords of a few chosen accounts, 2 tries per address: no address and no
    account pattern of the other shapes, but the auth service's failure ratio surges."""
    rng = platform.rng
    bots = _bot_addresses(rng, addresses)
    targets = rng.sample(platform.customers, accounts)
    tries = [bot for bot in bots for _ in range(2)]
    times = _spread(rng, start_ns, minutes, len(tries))
    return [login(at, targets[i % accounts], "failure", address, country, rng.choice(BOT_AGENTS), "bad_password")
            for i, ((address, country), at) in enumerate(zip(tries, times, strict=True))]


def spread_takeover(platform: Platform, start_ns: int, addresses: int = 6) -> list[dict[str, Any]]:
    """One account guessed from several addresses, one try each, then a success from yet another."""
    rng = platform.rng
    victim = rng.choice(platform.customers)
    bots = _bot_addresses(rng, addresses + 1)
    at = start_ns
    out = []
    for address, country in bots[:-1]:
        out.append(login(at, victim, "failure", address, country, rng.choice(BOT_AGENTS), "bad_password"))
        at += rng.randint(20, 70) * NS
    address, country = bots[-1]
    out.append(login(at, victim, "success", address, country, rng.choice(BOT_AGENTS)))
    return out
