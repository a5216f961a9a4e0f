"""The simulated world the services and the traffic share: accounts, orders, couriers, and a tiny GeoIP table."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from dataclasses import dataclass

ADMIN_ROLE = "admin"
BRUTE_FORCE_IP = "5.188.62.214"  # one foreign address, many accounts: incident 2
CRACKED_ACCOUNT = "m.keller"  # the account whose password the brute force finally guesses
PROMOTED_ACCOUNT = "j.becker"  # the normal user who is granted admin: incident 3
ADMIN_ACCOUNT = "ops.lead"

# A GeoIP stand-in: documentation and private ranges for the platform's users, one foreign range for the attacker.
_GEO = (
    (ipaddress.ip_network("203.0.113.0/24"), "DE"),
    (ipaddress.ip_network("198.51.100.0/24"), "AT"),
    (ipaddress.ip_network("192.0.2.0/24"), "NL"),
    (ipaddress.ip_network("10.0.0.0/8"), "DE"),
    (ipaddress.ip_network("127.0.0.0/8"), "DE"),
    (ipaddress.ip_network("5.188.62.0/24"), "RU"),
)
_USER_NETWORKS = ("203.0.113", "198.51.100", "192.0.2")
_NAMES = (
    "anna.schmidt", "jonas.weber", "lea.fischer", "m.keller", "j.becker", "paul.wagner", "sofia.hoffmann",
    "lukas.schulz", "emma.koch", "finn.richter", "mia.klein", "noah.wolf", "lena.neumann", "elias.braun",
    "clara.zimmer", "ben.hartmann", "ida.krueger", "leon.lange", "nora.werner", "felix.krause", "marie.meier",
    "tim.lehmann", "julia.huber", "david.kaiser", "laura.fuchs", "jan.peters", "lisa.scholz", "max.moeller",
)


def country_of(address: str | None) -> str | None:
    """ISO country code of an address, or None when the table does not know it."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return None
    return next((country for network, country in _GEO if ip in network), None)


def password_of(username: str) -> str:
    """The simulated users' passwords are derived, so the traffic generator can log in as them."""
    return f"{username.split('.')[0].capitalize()}-{sum(map(ord, username)) % 997:03d}!"


def _digest(password: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), 2000).hex()


@dataclass(frozen=True)
class Account:
    username: str
    user_id: str
    roles: tuple[str, ...]
    address: str  # where this user usually connects from
    password_hash: str

    def check(self, password: str) -> bool:
        return hmac.compare_digest(self.password_hash, _digest(password, self.user_id))


def _accounts() -> dict[str, Account]:
    accounts = {}
    for i, name in enumerate((ADMIN_ACCOUNT, *_NAMES)):
        user_id = f"u-{1001 + i}"
        roles = (ADMIN_ROLE,) if name == ADMIN_ACCOUNT else ("support",) if i % 7 == 0 else ("customer",)
        address = "10.20.0.5" if name == ADMIN_ACCOUNT else f"{_USER_NETWORKS[i % 3]}.{10 + i * 7 % 240}"
        accounts[name] = Account(name, user_id, roles, address, _digest(password_of(name), user_id))
    return accounts


ACCOUNTS: dict[str, Account] = _accounts()
BY_ID: dict[str, Account] = {a.user_id: a for a in ACCOUNTS.values()}
USERS: tuple[Account, ...] = tuple(a for a in ACCOUNTS.values() if a.username != ADMIN_ACCOUNT)

COURIERS: tuple[str, ...] = tuple(f"c-{101 + i}" for i in range(24))
ORDERS: tuple[str, ...] = tuple(f"o-{20451 + i * 13}" for i in range(300))


def courier_of(order_id: str) -> str:
    """The courier delivering an order (stable for the run)."""
    return COURIERS[int(order_id.split("-")[1]) % len(COURIERS)]
