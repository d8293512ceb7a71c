"""YAML to plain data, remembering the line of every value and refusing duplicate keys."""

from __future__ import annotations

from typing import Any

import yaml

from ._errors import ConfigIssue, Path


class LocatedData:
    """Plain data plus `line(path)`, the 1-based line where the value at `path` starts."""

    def __init__(self, data: Any, lines: dict[Path, int]) -> None:
        self.data = data
        self._lines = lines

    def line(self, path: Path) -> int:
        # A missing value is reported at its nearest present parent.
        for end in range(len(path), -1, -1):
            if path[:end] in self._lines:
                return self._lines[path[:end]]
        return 1


def load_yaml(text: str, filename: str) -> tuple[LocatedData, list[ConfigIssue]]:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        problem = getattr(error, "problem", None) or str(error)
        context = getattr(error, "context", None) or ""
        hint = ""
        if "flow mapping" in context or "flow sequence" in context:
            hint = (" (an expression with [ ] { } , or : inside a {...} or [...] must be "
                    "quoted: {job: \"headers['x-job']\"})")
        raise _single(filename, line, (), f"not valid YAML: {problem}{hint}") from None
    issues: list[ConfigIssue] = []
    lines: dict[Path, int] = {}
    data = _convert(node, (), lines, issues, filename) if node is not None else None
    return LocatedData(data, lines), issues


def _single(filename: str, line: int, path: Path, message: str) -> Exception:
    from ._errors import ConfigError

    return ConfigError([ConfigIssue(filename, line, path, message)])


def _convert(node: yaml.Node, path: Path, lines: dict[Path, int],
             issues: list[ConfigIssue], filename: str) -> Any:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str | int | float | bool):
                issues.append(ConfigIssue(filename, key_node.start_mark.line + 1, path,
                                          "mapping keys must be plain strings"))
                continue
            key = str(key) if not isinstance(key, str) else key
            if key in result:
                issues.append(ConfigIssue(filename, key_node.start_mark.line + 1, (*path, key),
                                          f"duplicate key {key!r}"))
                continue
            result[key] = _convert(value_node, (*path, key), lines, issues, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, index), lines, issues, filename)
                for index, item in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: yaml.Node) -> Any:
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_object(node, deep=True)
    finally:
        loader.dispose()
