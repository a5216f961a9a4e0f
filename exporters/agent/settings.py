"""What the file agent needs to know: its sources, where positions live, the deployment's env and base directory.

Plain data, so the agent takes it from anything: the ``tracklog agent`` command builds it from tracklog.yaml
(provisioning.config), a service could build it by hand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class AgentSource:
    """One file to follow: its name (the ``service`` label unless labels say otherwise), path, format and labels."""

    name: str
    path: str
    format: str
    labels: dict[str, str]
    regex: str = ""


@dataclass(frozen=True)
class AgentSettings:
    positions_file: Path
    sources: tuple[AgentSource, ...] = ()
    env: str = "dev"
    root: Path = field(default_factory=Path.cwd)  # relative source paths are relative to this
