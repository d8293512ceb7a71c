"""Errors of the routing config, each pointing at a file, a line and a field path."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


def format_path(path: Path) -> str:
    """('sources', 'stripe', 'routes', 1, 'signal', 'job') -> sources.stripe.routes[1].signal.job"""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


@dataclass(frozen=True)
class ConfigIssue:
    file: str
    line: int
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {format_path(self.path)}: {self.message}"


class ConfigError(ValueError):
    """The routing config is invalid; `issues` holds every problem found, not just the first."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = sorted(issues, key=lambda i: (i.file, i.line, format_path(i.path)))
        count = len(self.issues)
        lines = "\n".join(f"  {issue}" for issue in self.issues)
        super().__init__(f"{count} error{'s' if count != 1 else ''} in routing config:\n{lines}")


class BodyError(ValueError):
    """The request body does not parse as its declared content type (the receiver's 400)."""


@dataclass(frozen=True)
class RouteError:
    """A route (or the delivery id) could not be evaluated for one callback."""

    route: str
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"route": self.route, "field": self.field, "message": self.message}
