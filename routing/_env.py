"""${VAR} and ${VAR:-default} in a source's verify options, from a given environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._errors import Path

_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class MissingVariable(Exception):
    def __init__(self, path: Path, name: str) -> None:
        super().__init__(name)
        self.path = path
        self.name = name


def interpolate(value: Any, env: Mapping[str, str], path: Path,
                missing: list[MissingVariable]) -> Any:
    """Substitute references in strings, recursively; an emptied entry of a list is dropped
    (so an optional `${OLD_SECRET:-}` adds nothing). Missing variables are collected."""
    if isinstance(value, str):
        def substitute(match: re.Match[str]) -> str:
            name, default = match[1], match[2]
            if name in env:
                return env[name]
            if default is not None:
                return default
            missing.append(MissingVariable(path, name))
            return ""

        return _REFERENCE.sub(substitute, value)
    if isinstance(value, list):
        items = [interpolate(item, env, (*path, index), missing)
                 for index, item in enumerate(value)]
        return [item for item in items if item != ""]
    if isinstance(value, dict):
        return {key: interpolate(item, env, (*path, key), missing) for key, item in value.items()}
    return value
