"""Run the file agent: tail every source of tracklog.yaml's ``agent:`` section and ship its lines through LokiClient.

A source's ``log_type`` label picks its Loki tenant as for every other writer (``endpoints.loki.tenants``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from exporters.agent import positions as positions_file
from exporters.agent.parse import Parser, make_parser
from exporters.agent.positions import Position, PositionsError
from exporters.agent.settings import AgentSettings, AgentSource
from exporters.agent.tail import Tailer
from exporters.loki.client import LokiClient
from exporters.loki.labels import LabelSet, label_set
from exporters.loki.router import TenantRouter

if TYPE_CHECKING:
    from collections.abc import Callable

internal_log = logging.getLogger("tracklog.internal")


@dataclass
class _Source:
    """One followed file: its tailer, parser, label sets, and how far it was pushed and committed."""

    name: str
    path: Path
    tailer: Tailer
    parse: Parser
    labels: dict[str, str]
    default_level: str | None
    pushed: Position | None
    committed: Position | None
    warned_missing: bool = False
    label_sets: dict[str | None, LabelSet] = field(default_factory=dict)

    def label_set_for(self, level: str | None) -> LabelSet:
        found = self.label_sets.get(level)
        if found is None:
            found = self.label_sets[level] = label_set({**self.labels, "level": level})
        return found


class Agent:
    """The agent's state: one :class:`Tailer` per source, the positions, and the client the lines go to.

    Args:
        settings: the sources, positions file, env and base directory (``tracklog agent`` reads them from
            tracklog.yaml's ``agent:`` section).
        client: where lines are pushed (a router: to the tenant of each source's log type); the agent never
            closes it.
        rotate_wait: seconds a renamed-away file must be quiet before its successor is read.
        commit_interval: at most this often, flush the client and save positions.

    Raises:
        PositionsError: the positions file exists but cannot be read.
    """

    def __init__(
        self,
        settings: AgentSettings,
        client: LokiClient | TenantRouter,
        *,
        rotate_wait: float = 2.0,
        commit_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client if isinstance(client, TenantRouter) else TenantRouter(client, {}, owns_default=False)
        self.positions_path = settings.positions_file
        self.positions = positions_file.load(self.positions_path)
        self.commit_interval = commit_interval
        self._clock = clock
        self._last_commit = clock()
        self.sources = [self._source(settings, s, rotate_wait) for s in settings.sources]

    def _source(self, settings: AgentSettings, source: AgentSource, rotate_wait: float) -> _Source:
        path = (settings.root / source.path).resolve()
        start = self.positions.get(str(path))
        labels = {"service": source.name, **source.labels, "env": settings.env}
        parse = make_parser(source.format, regex=source.regex, service=labels["service"],
                            log_type=labels.get("log_type", "application"))
        default_level = labels.pop("level", None) or (None if source.format == "plain" else "info")
        return _Source(
            name=source.name, path=path, parse=parse, labels=labels, default_level=default_level,
            tailer=Tailer(path, start, rotate_wait=rotate_wait, max_line_bytes=self.client.default.max_line_bytes),
            pushed=start, committed=start,
        )

    def poll(self) -> bool:
        """Read and push what each file holds now; True if anything was read (or the client is still busy)."""
        if any(c.queue_bytes > c.buffer_max_bytes // 4 for c in self.client.clients):
            self.client.flush(timeout=0.5)  # back-pressure: let the senders drain before reading more
            return True
        progressed = False
        for source in self.sources:
            lines = source.tailer.poll()
            self._note_missing(source)
            if not lines:
                continue
            progressed = True
            read_ns = time.time_ns()
            for line in lines:
                if line.text.strip():
                    parsed = source.parse(line.text, read_ns)
                    labels = source.label_set_for(parsed.level or source.default_level)
                    if not self.client.push(labels, parsed.timestamp_ns, parsed.line):
                        self._rewind(source)
                        break
                source.pushed = line.position
        return progressed

    def maybe_commit(self) -> None:
        """Commit positions if ``commit_interval`` has passed since the last commit."""
        if self._clock() - self._last_commit >= self.commit_interval:
            self.commit(timeout=min(1.0, self.client.default.flush_timeout))

    def commit(self, timeout: float | None = None) -> bool:
        """Save the positions of every pushed line once the client has flushed them; False if it has not."""
        self._last_commit = self._clock()
        pending = {str(s.path): s.pushed for s in self.sources if s.pushed is not None and s.pushed != s.committed}
        if not pending:
            return True
        if not self.client.flush(timeout):
            return False
        self._save(pending)
        return True

    def close(self) -> None:
        for source in self.sources:
            source.tailer.close()

    def _save(self, pending: dict[str, Position]) -> None:
        self.positions.update(pending)
        positions_file.save(self.positions_path, self.positions)
        for source in self.sources:
            if str(source.path) in pending:
                source.committed = pending[str(source.path)]

    def _rewind(self, source: _Source) -> None:
        """The client refused a line (buffer full): read again from the last line it took."""
        source.tailer.close()
        source.tailer = Tailer(source.path, source.pushed, rotate_wait=source.tailer.rotate_wait,
                               max_line_bytes=source.tailer.max_line_bytes)

    def _note_missing(self, source: _Source) -> None:
        if source.tailer.missing and not source.warned_missing:
            internal_log.warning("tracklog agent: source %r: %s does not exist yet; waiting for it",
                                 source.name, source.path)
        source.warned_missing = source.tailer.missing


def run_agent(
    settings: AgentSettings,
    client: LokiClient | TenantRouter,
    once: bool = False,
    stop: threading.Event | None = None,
    poll_interval: float = 0.25,
    own_client: bool = False,
) -> int:
    """Tail the configured sources until ``stop`` is set or SIGTERM/SIGINT arrives; then flush and save positions.

    Args:
        settings: the sources and where their positions are kept.
        client: the client or router the lines go to; flushed, and closed only if ``own_client``.
        once: ship what the files hold now, then exit.
        stop: set it to stop the loop (for embedding and tests).
        poll_interval: seconds between polls when the files are idle.

    Returns:
        0 on a clean stop; 1 if the positions file is unreadable or lines were neither sent nor spooled at exit.
    """
    if not settings.sources:
        internal_log.warning("tracklog agent: no sources; nothing to do")
        return 0
    stop = stop or threading.Event()
    try:
        agent = Agent(settings, client, rotate_wait=0.0 if once else 2.0)
    except PositionsError as exc:
        internal_log.error("tracklog agent: %s", exc)
        if own_client:
            client.close()
        return 1
    restore = _handle_signals(stop)
    try:
        while not stop.is_set():
            progressed = agent.poll()
            if once and not progressed:
                break
            if not once:
                agent.maybe_commit()
            if not progressed:
                stop.wait(poll_interval)
        return _shutdown(agent, agent.client, own_client)
    finally:
        restore()
        agent.close()


def _shutdown(agent: Agent, client: TenantRouter, own_client: bool) -> int:
    """Flush and save positions; if Loki is slow, close the clients so that the rest goes to their spools."""
    if agent.commit(client.default.flush_timeout):
        if own_client:
            client.close()
        return 0
    if not own_client:
        internal_log.warning("tracklog agent: Loki did not take every line in time; positions not advanced")
        return 1
    dropped_before = _dropped(client)
    client.close()
    if _dropped(client) == dropped_before and client.flush(0):
        # Everything not yet sent is in the spool, which the next run replays first: advance the positions.
        agent.commit(0)
        return 0
    internal_log.warning("tracklog agent: some lines were neither sent nor spooled; positions not advanced, "
                         "so the next run ships them again")
    return 1


def _dropped(client: TenantRouter) -> int:
    return sum(sum(c.stats.dropped.values()) for c in client.clients)


def _handle_signals(stop: threading.Event) -> Callable[[], None]:
    """Make SIGTERM and SIGINT set ``stop``; return a function restoring the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = {sig: signal.signal(sig, lambda _signum, _frame: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

    return restore


__all__ = ["Agent", "AgentSettings", "AgentSource", "run_agent"]
