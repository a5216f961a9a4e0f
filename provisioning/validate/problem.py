"""A problem validation found, and where; a query to check, and where it comes from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong, and where: a dashboard and panel, a rule, or a server."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class Query:
    language: str  # 'promql' or 'logql'
    expr: str
    where: str
