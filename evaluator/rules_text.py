"""Reading rule-set text (YAML or JSON) with limits, so no document can stall or exhaust the process.

Limits: `MAX_BYTES` of text, strict UTF-8, `MAX_DEPTH` levels of nesting, `MAX_NODES` values after
YAML aliases are expanded (a billion-laughs document stops here), no duplicate keys (an error naming
the line, where YAML would silently keep the last). Errors name a line and column, never echo text.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_BYTES = 1024 * 1024
MAX_DEPTH = 32
MAX_NODES = 50_000

Format = Literal["yaml", "json"]


class TextRefused(ValueError):
    """The text is not a document we read; the message is safe to show (no input echoed)."""


def _where(mark: Any) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "somewhere"


class _LimitedLoader(yaml.SafeLoader):
    """PyYAML's safe loader that counts depth and nodes while composing and refuses duplicate keys."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise TextRefused(f"nested deeper than {MAX_DEPTH} levels at {_where(self.peek_event().start_mark)}")
        if self._nodes > MAX_NODES:
            raise TextRefused(f"more than {MAX_NODES} values (at {_where(self.peek_event().start_mark)})")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != "tag:yaml.org,2002:merge":
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise TextRefused(f"duplicate key {key_node.value[:60]!r} on line {key_node.start_mark.line + 1} "
                                      f"(first on line {seen[key]})")
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many values `node` stands for once every alias is expanded; refused past `MAX_NODES`."""
    known = sizes.get(id(node))
    if known is not None:
        if known < 0:
            raise TextRefused(f"an alias refers to itself at {_where(node.start_mark)}")
        return known
    sizes[id(node)] = -1
    total = 1
    if isinstance(node, SequenceNode):
        total += sum(_expanded_size(child, sizes) for child in node.value)
    elif isinstance(node, MappingNode):
        total += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
    if total > MAX_NODES:
        raise TextRefused(f"expands to more than {MAX_NODES} values (YAML aliases) at {_where(node.start_mark)}")
    sizes[id(node)] = total
    return total


def _load_yaml(text: str) -> Any:
    loader = _LimitedLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {})
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        raise TextRefused(f"not valid YAML: {exc.problem or exc.context} at {_where(exc.problem_mark)}") from exc
    except yaml.YAMLError as exc:
        raise TextRefused("not valid YAML") from exc
    finally:
        loader.dispose()


def _depth(value: Any, level: int = 1) -> None:
    if level > MAX_DEPTH:
        raise TextRefused(f"nested deeper than {MAX_DEPTH} levels")
    children = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    for child in children:
        _depth(child, level + 1)


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    doc = dict(pairs)
    if len(doc) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return doc


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _load_json(text: str) -> Any:
    try:
        doc = json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey as exc:
        try:  # JSON is YAML too: its loader knows the line
            _load_yaml(text)
        except TextRefused as located:
            if "duplicate key" in str(located):
                raise located from exc
        raise TextRefused(f"duplicate key {exc.key[:60]!r}") from exc
    except json.JSONDecodeError as exc:
        raise TextRefused(f"not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}") from exc
    except RecursionError as exc:
        raise TextRefused(f"nested deeper than {MAX_DEPTH} levels") from exc
    _depth(doc)
    return doc


def read_document(data: bytes | str, *, fmt: Format = "yaml") -> Any:
    """The document in `data`; raises `TextRefused` with a short reason past any limit."""
    if isinstance(data, bytes):
        if len(data) > MAX_BYTES:
            raise TextRefused(f"larger than {MAX_BYTES} bytes")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise TextRefused(f"not UTF-8 text (byte {exc.start} cannot be decoded)") from exc
    else:
        text = data
        if len(text) > MAX_BYTES:
            raise TextRefused(f"larger than {MAX_BYTES} characters")
    return _load_json(text) if fmt == "json" else _load_yaml(text)
