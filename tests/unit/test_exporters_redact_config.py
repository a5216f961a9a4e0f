"""The redaction: section of tracklog.yaml, read by exporters without provisioning."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from exporters import load_redactor
from exporters.redact import Redactor
from exporters.redact_config import make_redactor, redactor_options

ROOT = Path(__file__).resolve().parents[2]


def test_the_projects_tracklog_yaml_configures_a_redactor() -> None:
    r = load_redactor(ROOT / "tracklog.yaml")
    assert r.text("ruf 030 12345678 oder 212.555.0147 an") == "ruf [REDACTED:phone] oder [REDACTED:phone] an"


def test_user_patterns_allow_lists_field_names_and_disabled_detectors(tmp_path: Path) -> None:
    path = tmp_path / "tracklog.yaml"
    path.write_text(
        "security: {allowed_countries: [FR]}\n"
        "redaction:\n"
        "  disable: [email]\n"
        "  patterns: {voucher: 'VCH-(?P<value>[A-Z0-9]{6})'}\n"
        "  allow: ['\\+33 1 23 45 67 89']\n"
        "  field_names: [x-internal]\n"
    )
    r = load_redactor(path)
    assert r.phones is not None
    assert r.phones.regions == ("FR",)  # security.allowed_countries when not given
    assert r.text("code VCH-AB12CD") == "code VCH-[REDACTED:voucher]"
    assert r.text("mail anna@example.org") == "mail anna@example.org"
    assert r.text("hotline +33 1 23 45 67 89, anna +33 6 12 34 56 78") == (
        "hotline +33 1 23 45 67 89, anna [REDACTED:phone]")
    assert r.fields({"x-internal": "abc"}) == {"x-internal": "[REDACTED]"}


def test_turning_off_secret_field_names_keeps_only_the_exact_list() -> None:
    r = Redactor(disable=["secret_field"])
    assert r.fields({"clientSecret": "abc", "password": "x"}) == {"clientSecret": "abc", "password": "[REDACTED]"}


@pytest.mark.parametrize(("section", "message"), [
    ({"patterns": {"bad": "("}}, "pattern 'bad'"),
    ({"disable": ["nope"]}, "no detector named nope"),
    ({"colour": 1}, "unknown key(s) colour"),
    ({"allow": "x"}, "redaction.allow: a list of strings"),
    ({"phone_regions": ["XX"]}, "XX not known"),
])
def test_mistakes_name_what_is_wrong(section: dict, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        make_redactor(section)


def test_a_mapping_and_the_environment_are_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert make_redactor({"disable": ["phone"]}).phones is None
    path = tmp_path / "t.yaml"
    path.write_text("redaction: {disable: [card]}\n")
    monkeypatch.setenv("TRACKLOG_CONFIG", str(path))
    assert "card" not in make_redactor(None).pattern_names
    assert redactor_options(None) == {}


def test_exporters_never_imports_provisioning() -> None:
    code = ("import exporters, exporters.redact_config, sys; "
            "print(any(m.startswith('provisioning') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"
