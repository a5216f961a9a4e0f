"""`tracklog collect`: app keys from the environment only, errors that never print a key, the command registered."""

from __future__ import annotations

import pytest

from provisioning import cli
from provisioning.commands import collect
from provisioning.errors import TracklogError


def test_app_keys_pairs() -> None:
    assert collect.app_keys(" k1=tracking-web , k2=driver-app,", "V") == {"k1": "tracking-web", "k2": "driver-app"}


@pytest.mark.parametrize(("text", "says"), [("", "$V is not set or empty"),
                                             ("good=web,s3cr3t-only", "$V: entry 2 is not key=service"),
                                             ("=web", "$V: entry 1 is not key=service")])
def test_app_keys_errors_name_the_entry_not_the_key(text: str, says: str) -> None:
    with pytest.raises(TracklogError) as raised:
        collect.app_keys(text, "V")
    assert str(raised.value).startswith(says)
    assert "s3cr3t" not in str(raised.value)


def test_collect_is_a_command_and_takes_no_key_on_the_command_line() -> None:
    args = cli.build_parser().parse_args(["collect", "--port", "0", "--allow-origin", "https://a.example"])
    assert args.run is collect.run
    assert args.allow_origin == ["https://a.example"]
    assert not any("key" in name and name != "keys_env" for name in vars(args))


def test_missing_keys_exit_1_with_the_variable_named(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("TRACKLOG_FARO_APP_KEYS", raising=False)
    assert cli.main(["collect", "--port", "0"]) == 1
    assert "tracklog collect: $TRACKLOG_FARO_APP_KEYS is not set or empty" in capsys.readouterr().err
