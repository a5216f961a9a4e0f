"""The file agent: tail log files of non-Python sources (nginx, database slow logs) and ship them to Loki."""

from __future__ import annotations

from exporters.agent.main import Agent, run_agent
from exporters.agent.parse import Parsed, make_parser
from exporters.agent.positions import Position, PositionsError
from exporters.agent.settings import AgentSettings, AgentSource
from exporters.agent.tail import Line, Tailer

__all__ = [
    "Agent", "AgentSettings", "AgentSource", "Line", "Parsed", "Position", "PositionsError", "Tailer", "make_parser",
    "run_agent",
]
