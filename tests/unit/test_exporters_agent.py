"""The file agent with a fake transport: partial lines, rotation, truncation, restarts, parsing, positions file."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path

import pytest

from exporters.agent import positions
from exporters.agent.main import Agent, run_agent
from exporters.agent.parse import make_parser, parse_json, parse_logfmt, parse_time
from exporters.agent.positions import Position, PositionsError
from exporters.agent.tail import Tailer, fingerprint
from exporters.loki import Backoff, LokiClient
from exporters.testing import FakeTransport
from provisioning import config as config_module
from provisioning.agent import agent_settings
from provisioning.config import Config

NGINX_COMBINED = (
    r'^(?P<client_address>\S+) \S+ (?P<user>\S+) \[(?P<time>[^\]]+)\] "(?P<method>\S+) (?P<path>\S+) \S+" '
    r'(?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" "(?P<user_agent>[^"]*)"'
)


@pytest.fixture
def clients():
    made: list[LokiClient] = []

    def make(fake: FakeTransport, **kw) -> LokiClient:
        client = LokiClient(transport=fake, encoding="json", batch_max_wait=0.05, **kw)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def make_config(tmp_path, monkeypatch):
    for name in ("TRACKLOG_STATE", "TRACKLOG_LOKI_URL", "TRACKLOG_CONFIG"):
        monkeypatch.delenv(name, raising=False)

    def make(fmt: str = "plain", path: str = "logs/app.log", regex: str = "", labels: str = "") -> Config:
        (tmp_path / "logs").mkdir(exist_ok=True)
        source = {"name": "app", "path": path, "format": fmt,
                  "labels": {"service": "nginx", "log_type": "application", **json.loads(labels or "{}")}}
        if regex:
            source["regex"] = regex
        text = json.dumps({  # JSON is YAML
            "env": "test",
            "stack": {"state_dir": "state"},
            "agent": {"positions_file": "state/agent/positions.json", "sources": [source]},
        })
        (tmp_path / "tracklog.yaml").write_text(text)
        return config_module.load(tmp_path / "tracklog.yaml")

    return make


def append(path: Path, text: str) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(text)


def saved_offset(config: Config, path: Path) -> int:
    return positions.load(config.agent.positions_file)[str(path.resolve())].offset


# -- tail ------------------------------------------------------------------------------------------------


def test_a_partial_last_line_waits_for_its_newline(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("one\ntw")
    tailer = Tailer(log)
    assert [line.text for line in tailer.poll()] == ["one"]
    assert tailer.poll() == []
    append(log, "o\r\nthree")
    lines = tailer.poll()
    assert [line.text for line in lines] == ["two"]
    assert lines[-1].position.offset == len("one\ntwo\r\n")
    tailer.close()


def test_rotation_by_rename_reads_the_old_file_to_its_end_then_the_new_one(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("1\n2\n")
    now = [0.0]
    tailer = Tailer(log, rotate_wait=5.0, clock=lambda: now[0])
    assert [line.text for line in tailer.poll()] == ["1", "2"]
    append(log, "3\n4-partial")
    log.rename(tmp_path / "a.log.1")
    log.write_text("5\n")
    assert [line.text for line in tailer.poll()] == ["3"]  # the new file waits while the old one may still grow
    append(tmp_path / "a.log.1", "-done\n")
    now[0] = 4.0
    assert [line.text for line in tailer.poll()] == ["4-partial-done"]
    now[0] = 20.0
    assert [line.text for line in tailer.poll()] == ["5"]
    tailer.close()


def test_a_renamed_file_ships_its_unterminated_last_line_before_the_new_file(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("1\n2")
    tailer = Tailer(log, rotate_wait=0.0)
    assert [line.text for line in tailer.poll()] == ["1"]
    log.rename(tmp_path / "a.log.1")
    log.write_text("3\n")
    assert [line.text for line in tailer.poll()] == ["2", "3"]
    tailer.close()


def test_copytruncate_restarts_at_zero(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("first line\nsecond line\n")
    tailer = Tailer(log)
    assert len(tailer.poll()) == 2
    log.write_text("x\n")  # truncated below the offset
    assert [line.text for line in tailer.poll()] == ["x"]
    log.write_text("a much longer first line than before\n")  # truncated, then grown past the offset
    assert [line.text for line in tailer.poll()] == ["a much longer first line than before"]
    tailer.close()


def test_a_new_file_reusing_the_inode_is_read_from_the_start(tmp_path):
    log = tmp_path / "a.log"
    log.write_text("new 1\nnew 2\n")
    st = log.stat()
    stale = Position(st.st_dev, st.st_ino, 6, fingerprint(b"old 1\n"))
    tailer = Tailer(log, stale)
    assert [line.text for line in tailer.poll()] == ["new 1", "new 2"]
    tailer.close()


# -- agent: every line exactly once ----------------------------------------------------------------------


def test_agent_ships_every_line_once_in_order_across_a_rename(make_config, clients, tmp_path):
    config = make_config()
    log = tmp_path / "logs" / "app.log"
    fake = FakeTransport()
    agent = Agent(agent_settings(config), clients(fake), rotate_wait=0.0)
    log.write_text("1\n2\n")
    agent.poll()
    append(log, "3\n")  # written to the old file after the last poll, before the rename
    log.rename(log.with_name("app.log.1"))
    log.write_text("4\n5\n")
    agent.poll()
    append(log, "6\n")
    agent.poll()
    assert agent.commit(5)
    assert fake.lines() == ["1", "2", "3", "4", "5", "6"]
    saved = positions.load(config.agent.positions_file)[str(log)]
    assert (saved.inode, saved.offset) == (log.stat().st_ino, 6)
    agent.close()


def test_agent_follows_copytruncate(make_config, clients, tmp_path):
    config = make_config()
    log = tmp_path / "logs" / "app.log"
    fake = FakeTransport()
    agent = Agent(agent_settings(config), clients(fake), rotate_wait=0.0)
    log.write_text("1\n2\n3\n")
    agent.poll()
    with log.open("r+") as handle:
        handle.truncate(0)
    append(log, "4\n")
    agent.poll()
    assert agent.commit(5)
    assert fake.lines() == ["1", "2", "3", "4"]
    agent.close()


def test_restart_from_the_positions_file_neither_loses_nor_repeats(make_config, clients, tmp_path):
    config = make_config()
    log = tmp_path / "logs" / "app.log"
    fake = FakeTransport()
    log.write_text("1\n2\n3\n")
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    append(log, "4\n5\n6-partial")
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    assert fake.lines() == ["1", "2", "3", "4", "5"]
    append(log, "-done\n")
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    assert fake.lines() == ["1", "2", "3", "4", "5", "6-partial-done"]


def test_stop_event_flushes_and_saves_positions(make_config, clients, tmp_path):
    config = make_config()
    log = tmp_path / "logs" / "app.log"
    log.write_text("1\n2\n3\n")
    fake = FakeTransport()
    stop = threading.Event()
    runner = threading.Thread(target=run_agent, args=(agent_settings(config), clients(fake)),
                              kwargs={"stop": stop, "poll_interval": 0.01})
    runner.start()
    deadline = time.monotonic() + 10
    while len(fake.lines()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    runner.join(10)
    assert not runner.is_alive()
    assert saved_offset(config, log) == 6
    append(log, "4\n")
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    assert fake.lines() == ["1", "2", "3", "4"]


def test_restart_finds_a_file_rotated_while_the_agent_was_down(make_config, clients, tmp_path):
    config = make_config()
    log = tmp_path / "logs" / "app.log"
    fake = FakeTransport()
    log.write_text("1\n2\n")
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    append(log, "3\n")
    log.rename(log.with_name("app.log.1"))
    log.write_text("4\n")
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    assert fake.lines() == ["1", "2", "3", "4"]
    assert saved_offset(config, log) == 2


def test_positions_wait_for_loki_to_accept(make_config, clients, tmp_path):
    config = make_config()
    log = tmp_path / "logs" / "app.log"
    log.write_text("1\n")
    failing = FakeTransport([503] * 10_000)
    client = clients(failing, backoff=Backoff(min_seconds=0.01, max_seconds=0.02), flush_timeout=0.1)
    agent = Agent(agent_settings(config), client)
    agent.poll()
    assert not agent.commit(0.1)
    assert not config.agent.positions_file.exists()
    agent.close()


def test_a_missing_file_is_waited_for_with_one_warning(make_config, clients, tmp_path, caplog):
    config = make_config()
    fake = FakeTransport()
    agent = Agent(agent_settings(config), clients(fake), rotate_wait=0.0)
    with caplog.at_level(logging.WARNING, logger="tracklog.internal"):
        for _ in range(3):
            assert not agent.poll()
    assert len([r for r in caplog.records if "does not exist yet" in r.getMessage()]) == 1
    (tmp_path / "logs" / "app.log").write_text("here\n")
    agent.poll()
    assert agent.commit(5)
    assert fake.lines() == ["here"]
    agent.close()


def test_labels_come_from_the_source_the_env_and_the_parsed_level(make_config, clients, tmp_path):
    config = make_config("logfmt", labels='{"team": "edge"}')
    (tmp_path / "logs" / "app.log").write_text("level=ERROR msg=boom\nmsg=ok\n")
    fake = FakeTransport()
    assert run_agent(agent_settings(config), clients(fake), once=True) == 0
    labels = [row[0] for row in fake.accepted]
    base = {"service": "nginx", "log_type": "application", "env": "test", "team": "edge"}
    assert labels == [{**base, "level": "error"}, {**base, "level": "info"}]


# -- parse -----------------------------------------------------------------------------------------------


def test_parse_nginx_combined_line():
    parse = make_parser("regex", regex=NGINX_COMBINED, service="nginx", log_type="application")
    line = ('203.0.113.7 - - [26/Nov/2026:22:46:49 +0100] "GET /api/orders/42 HTTP/1.1" 404 153 '
            '"https://example.com/" "curl/8.5.0"')
    parsed = parse(line, 1)
    assert parsed.timestamp_ns == parse_time("2026-11-26T21:46:49Z")
    assert parsed.level == "info"
    event = json.loads(parsed.line)
    assert event == {
        "timestamp": "2026-11-26T21:46:49.000000Z", "level": "info", "log_type": "application", "service": "nginx",
        "message": "GET /api/orders/42 404", "client.address": "203.0.113.7", "user": "-",
        "http.request.method": "GET", "url.path": "/api/orders/42", "http.response.status_code": 404,
        "http.response.body.size": 153, "http.request.header.referer": "https://example.com/",
        "user_agent.original": "curl/8.5.0",
    }


def test_parse_logfmt_line():
    assert parse_logfmt('a=1 b="two \\"words\\"" flag c=') == {"a": "1", "b": 'two "words"', "flag": "true", "c": ""}
    parse = make_parser("logfmt", service="postgres", log_type="system")
    parsed = parse('ts=2026-11-26T22:46:49.123456789Z severity=WARNING duration_ms=1532 '
                   'query="SELECT * FROM orders WHERE id = 42" msg="slow query"', 1)
    assert parsed.timestamp_ns == 1795733209_123456789
    assert parsed.level == "warn"
    assert json.loads(parsed.line) == {
        "timestamp": "2026-11-26T22:46:49.123456Z", "level": "warn", "log_type": "system", "service": "postgres",
        "message": "slow query", "duration_ms": "1532", "db.query.text": "SELECT * FROM orders WHERE id = ?",
    }


def test_parse_json_line_keeps_the_original():
    line = '{"ts": 1795733209.5, "level": "Warning", "msg": "disk at 91%"}'
    parsed = parse_json(line, 1)
    assert parsed == (1795733209_500000000, line, "warn")
    assert parse_json('{"time": "not a time"}', 7).timestamp_ns == 7
    assert parse_json("not json", 7) == (7, "not json", None)
    assert parse_time(1795733209123) == 1795733209_123_000_000  # epoch milliseconds


# -- positions file --------------------------------------------------------------------------------------


def test_positions_file_is_replaced_never_written_in_place(tmp_path, monkeypatch):
    path = tmp_path / "positions.json"
    first = {"/var/log/a.log": Position(1, 2, 3, "ab")}
    positions.save(path, first)
    inode = path.stat().st_ino
    assert positions.load(path) == first

    def crash(fd: int) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(OSError, match="disk gone"):
        positions.save(path, {"/var/log/a.log": Position(1, 2, 999, "ab")})
    monkeypatch.undo()
    assert positions.load(path) == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["positions.json"]  # no temporary file left behind
    positions.save(path, {"/var/log/a.log": Position(1, 2, 10, "ab")})
    assert path.stat().st_ino != inode  # a new file was renamed over the old one
    assert positions.load(path)["/var/log/a.log"].offset == 10


def test_an_unreadable_positions_file_stops_the_agent(make_config, clients):
    config = make_config()
    config.agent.positions_file.parent.mkdir(parents=True)
    config.agent.positions_file.write_text("{not json")
    with pytest.raises(PositionsError, match=r"positions\.json"):
        positions.load(config.agent.positions_file)
    assert run_agent(agent_settings(config), clients(FakeTransport()), once=True) == 1
