"""What a signal name may be: shared by job signals and workflow signals."""

from __future__ import annotations

from collections.abc import Sequence


def check_name(name: object) -> str:
    """Names are stored as text and matched exactly: non-empty, printable (no NUL), at
    most 200 characters."""
    if not isinstance(name, str) or not name or not name.isprintable() or len(name) > 200:
        raise ValueError(f"name: must be a non-empty printable string of at most 200 "
                         f"characters, got {str(name)[:40]!r}")
    return name


def check_names(names: Sequence[str]) -> tuple[str, ...]:
    """Several names for one wait: at least one, each once."""
    if isinstance(names, str) or not names:
        raise ValueError("names: a list of at least one signal name, e.g. ['payment']")
    checked = tuple(check_name(name) for name in names)
    if len(set(checked)) != len(checked):
        raise ValueError(f"names: each name once, got {list(checked)}")
    return checked
