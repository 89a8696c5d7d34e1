"""Where in a YAML file a validation error points: pydantic error locations mapped to YAML node marks."""

from __future__ import annotations

from typing import Any

import yaml


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of a text that already parsed (aliases stay shared nodes: nothing is expanded)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def locate(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[int, int] | None:
    """1-based (line, column) of the deepest node on the path `loc`; None without a tree.

    Parts that are not keys or indexes of the YAML (pydantic's union tags such as a journey's kind, or
    `function-after[...]`) are skipped. An unknown key points at the key itself, a missing one at its parent.
    """
    if root is None:
        return None
    node = root
    mark = node.start_mark
    for part in loc:
        child = _child(node, part)
        if child is None:
            continue
        node, mark = child
    return mark.line + 1, mark.column + 1


def yaml_path(root: yaml.Node | None, loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """`loc` without pydantic's own parts (union tags, validator names): only what the YAML spells, plus a
    last part that is missing from it (a required field)."""
    if root is None:
        return loc
    node = root
    out: list[Any] = []
    for n, part in enumerate(loc):
        child = _child(node, part)
        if child is not None:
            node = child[0]
            out.append(part)
        elif n == len(loc) - 1:
            out.append(part)
    return tuple(out)


def _child(node: yaml.Node, part: Any) -> tuple[yaml.Node, yaml.Mark] | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                # a scalar value points at the key (where a reader looks); a nested section at its key too
                return value, key.start_mark
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        item = node.value[part]
        return item, item.start_mark
    return None
