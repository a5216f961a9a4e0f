"""What a secret looks like: the default detectors (regexes) and the names of fields that hold secrets.

The credential shapes follow the rules public secret scanners keep (gitleaks' rule set, Yelp's detect-secrets
plugins), written here in our own words: a fixed, documented prefix where the provider has one (AWS key ids,
GitHub, GitLab, Slack, Stripe, Google API keys and OAuth tokens, Azure AD client secrets), PEM blocks, and for
everything else a secret-looking *name* next to a value (``password=``, ``"clientSecret": "..."``,
``X-Api-Key: ...``, ``AWS_SECRET_ACCESS_KEY=...``). A group named ``<detector>_value`` limits the mask to it.
"""

from __future__ import annotations

import re

# The tail of a key name that says its value is a secret, matched after camelCase, kebab-case and dotted names are
# turned into snake_case (clientSecret -> client_secret, X-Api-Key -> x_api_key, api.key -> api_key).
_KEY_TAILS = (
    r"pass|passwd|password|passphrase|pwd|secrets?|tokens?|private_?key_?id|credentials?|authorization|auth|cookies?|set_cookie|"
    r"(?:api|access|secret|private|account|client|encryption|signing|master|app|license|subscription|storage|"
    r"shared|consumer|shared_access)_?key|apikey|session_?id|sig|signature|otp|cvv|cvc|pan|card_?number|"
    r"connection_?string"
)
SECRET_KEY_NAME = re.compile(rf"(?:^|_)(?:{_KEY_TAILS})$")

# The same names as they appear in text (query strings, headers, logfmt, JSON, env dumps), in any case style.
# Bare "pass" and "auth" count only after a prefix (DB_PASS, basic_auth): alone they are ordinary words.
_TEXT_TAILS = (
    r"passw(?:or)?d|passphrase|pwd|secrets?|tokens?|private[_.-]?key[_.-]?id|credentials?|authorization|cookie|"
    r"(?:api|access|secret|private|account|client|encryption|signing|master|app|license|subscription|storage|"
    r"consumer)[_.-]?key|apikey|session[_.-]?id|sig|signature|connection[_.-]?string"
)
_TEXT_KEY = (
    r"(?<![\w.])(?<!\w-)(?:[A-Za-z0-9]+[_.-])*(?:[A-Za-z0-9]*[a-z0-9](?=[A-Z]))?"
    rf"(?:(?i:{_TEXT_TAILS})|(?<=[_.-])(?i:pass|auth))"
)

DEFAULT_PATTERNS: dict[str, str] = {
    # user:password@ in any URL
    "url_credentials": r"(?<=://)[^/\s:@]+:[^/\s@]+(?=@)",
    "pem_private_key": (
        r"-----BEGIN[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END[A-Z0-9 ]{0,40} PRIVATE KEY(?: BLOCK)?-----|\Z)"
    ),
    # JSON Web Tokens: three base64url parts, the first two starting with eyJ ({")
    "jwt": r"\beyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*",
    "aws_access_key_id": r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA)[A-Z0-9]{16}\b",
    # a 40-character secret key near the word "aws" (the key names below catch aws_secret_access_key=...)
    "aws_secret_access_key": (
        r"(?i:aws)[\w .-]{0,20}?[=:]\s*[\"']?(?P<aws_secret_access_key_value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"
    ),
    "gcp_api_key": r"\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])",
    "gcp_oauth_token": r"\bya29\.[0-9A-Za-z_-]{20,}",
    "azure_client_secret": r"(?<![\w~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}(?![\w~.-])",
    "slack_token": r"\bxox[abposr]-[0-9A-Za-z-]{10,}|\bxapp-\d-[A-Z0-9]+-\d+-[a-z0-9]+",
    "slack_webhook": r"hooks\.slack\.com/(?:services|workflows|triggers)/(?P<slack_webhook_value>[A-Za-z0-9+/_-]{20,})",
    "github_token": r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b",
    "gitlab_token": r"\bglpat-[A-Za-z0-9_-]{20,}",
    "stripe_key": r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,99}\b|\bwhsec_[A-Za-z0-9]{24,}",
    # Bearer <token> in any header-like text; the token needs a digit unless it is long (not "bearer authentication")
    "bearer": (
        r"(?:\b[Bb]earer|BEARER)(?:\s+|%20|\+)"
        r"(?P<bearer_value>(?=[A-Za-z._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}|[A-Za-z0-9._~+/=-]{20,})"
    ),
    # password=..., "clientSecret": "...", X-Api-Key: ..., AWS_SECRET_ACCESS_KEY=... (value quoted or not)
    "secret_pair": (
        _TEXT_KEY + r"[\"']?\s*[=:]\s*"
        r"(?P<secret_pair_value>\"[^\"]*\"|'[^']*'|(?:(?i:bearer|basic|token|digest)\s+)?[^\s&\"',;}<>]+)"
    ),
    "email": r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b",
    # 13-19 digits, optionally grouped by spaces or dashes; only masked when the Luhn check passes
    "card": r"(?<!\+)\b\d(?:[ -]?\d){12,18}\b",
}

# Detectors that are not regexes: phone numbers (exporters.phones) and secret field names.
OTHER_DETECTORS = ("phone", "secret_field")

# Exact field names masked whole, besides every name SECRET_KEY_NAME matches.
DEFAULT_FIELD_NAMES = (
    "password", "passwd", "pwd", "secret", "token", "access_token", "refresh_token", "api_key", "apikey",
    "authorization", "cookie", "set-cookie", "card", "card_number", "cvv", "cvc", "pan", "client_secret",
)

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def is_secret_key(name: str) -> bool:
    """Whether a field named ``name`` holds a secret: ``api_key``, ``x-api-key``, ``clientSecret``, ``db.passwd``."""
    return SECRET_KEY_NAME.search(_CAMEL.sub("_", name).lower().replace("-", "_").replace(".", "_")) is not None
