"""YAML with positions: load a document and remember where every value sits.

Rule files are checked before anything runs, and an error is only useful if it points
at the place to fix. :func:`load_located` composes the YAML node tree (PyYAML's
``compose``), converts it to plain data and keeps, for each path such as
``("rules", 0, "when")``, the 1-based line and column of the value. :meth:`position`
also maps an offset *inside* a string value to its line and column, for the single-line
plain and quoted scalars conditions are usually written as, and for block scalars
(``|``, ``>``) line by line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass
class Located:
    data: Any
    source: str
    marks: dict[Path, yaml.Node] = field(default_factory=dict)

    def position(self, path: Path, offset: int | None = None) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (or of its nearest parent)."""
        probe = tuple(path)
        while probe and probe not in self.marks:
            probe = probe[:-1]
        node = self.marks.get(probe)
        if node is None:
            return (1, 1)
        line, column = node.start_mark.line, node.start_mark.column
        if offset is None or probe != tuple(path) or not isinstance(node, yaml.ScalarNode):
            return (line + 1, column + 1)
        style = node.style or ""
        if style in ("|", ">"):
            return self._in_block(node, offset)
        text = node.value
        if "\n" in text[:offset]:
            return (line + 1, column + 1)
        return (line + 1, column + 1 + offset + (1 if style in ("'", '"') else 0))

    def _in_block(self, node: yaml.ScalarNode, offset: int) -> tuple[int, int]:
        before = node.value[:offset]
        line = node.start_mark.line + 1 + before.count("\n")
        within = len(before) - (before.rfind("\n") + 1)
        lines = self.source.splitlines()
        if line >= len(lines):
            return (node.start_mark.line + 1, node.start_mark.column + 1)
        text = lines[line]
        indent = len(text) - len(text.lstrip(" "))
        return (line + 1, indent + within + 1)


class _Loader(yaml.SafeLoader):
    """SafeLoader: no Python object tags, ever."""


def load_located(text: str) -> Located:
    """Parse ``text``; raise ``yaml.YAMLError`` (with its own mark) when it is not YAML."""
    node = yaml.compose(text, Loader=_Loader)
    located = Located(data=None, source=text)
    if node is None:
        return located
    constructor = _Loader(text)
    located.data = _convert(node, (), located.marks, constructor)
    return located


def _convert(
    node: yaml.Node, path: Path, marks: dict[Path, yaml.Node], constructor: _Loader
) -> Any:
    marks[path] = node
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            # Keys are taken as written: YAML 1.1 would read the key `on` as true.
            if isinstance(key_node, yaml.ScalarNode):
                name = str(key_node.value)
            else:
                name = str(constructor.construct_object(key_node, deep=True))
            marks[(*path, name)] = value_node
            out[name] = _convert(value_node, (*path, name), marks, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_convert(item, (*path, i), marks, constructor) for i, item in enumerate(node.value)]
    return constructor.construct_object(node, deep=True)
