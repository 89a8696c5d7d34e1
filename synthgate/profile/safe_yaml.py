"""YAML parsing with bounds: a profile cannot hang or crash the loader with aliases or nesting.

A "billion laughs" file (a few hundred bytes of nested aliases) composes into a tiny node graph that expands
to billions of values once constructed or validated; a file nested 100,000 levels deep overflows the recursion
of the composer. The loader below limits the nesting while composing, then measures the node graph as it would
expand (aliases counted every time they are used) before constructing anything.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

MAX_DEPTH = 64  # a real profile nests < 12 levels
MAX_NODES = 100_000  # values after alias expansion; a real profile has a few thousand
MAX_BYTES = 4 * 1024 * 1024


class YamlLimitError(ValueError):
    """The document goes over a bound (depth, expanded size, file size); the message says which."""


class BoundedLoader(yaml.SafeLoader):
    """SafeLoader that refuses documents nested deeper than MAX_DEPTH while composing them."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node:  # type: ignore[override]
        """Compose one node, counting the nesting depth."""
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise YamlLimitError(f"nested deeper than {MAX_DEPTH} levels at line {mark.line + 1}, "
                                     f"column {mark.column + 1} (profiles are limited to {MAX_DEPTH})")
            return super().compose_node(parent, index)  # type: ignore[no-any-return]
        finally:
            self._depth -= 1


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def measure(root: Node) -> tuple[int, int]:
    """(values, depth) of the document as aliases would expand it; YamlLimitError past the bounds.

    Iterative, memoised per node: linear in the size of the graph however large its expansion.
    """
    size: dict[int, int] = {}
    depth: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if done:
            on_path.discard(key)
            kids = _children(node)
            size[key] = 1 + sum(size[id(k)] for k in kids)
            depth[key] = 1 + max((depth[id(k)] for k in kids), default=0)
            if size[key] > MAX_NODES:
                raise YamlLimitError(f"aliases expand to more than {MAX_NODES} values (anchor/alias bomb?); "
                                     f"profiles are limited to {MAX_NODES}")
            if depth[key] > MAX_DEPTH:
                raise YamlLimitError(f"aliases expand to a nesting deeper than {MAX_DEPTH} levels")
            continue
        if key in size:
            continue
        if key in on_path:
            raise YamlLimitError("an alias refers to a node that contains it (a recursive structure)")
        on_path.add(key)
        stack.append((node, True))
        stack.extend((k, False) for k in _children(node) if id(k) not in size)
    return size[id(root)], depth[id(root)]


def load(text: str) -> Any:
    """Parse one YAML document within the bounds (yaml.YAMLError or YamlLimitError otherwise)."""
    if len(text) > MAX_BYTES:
        raise YamlLimitError(f"larger than {MAX_BYTES // (1024 * 1024)} MiB ({len(text)} characters)")
    loader = BoundedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        measure(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
