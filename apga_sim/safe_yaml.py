"""Bounded YAML loading: safe tags only, and limits on size, nesting and alias expansion.

``yaml.safe_load`` alone refuses ``!!python`` tags but still lets a small file exhaust memory
(a billion-laughs alias bomb), the stack (deeply nested flow lists) or raise bare Python errors
(``!!int abc``, a 4301-digit integer). :func:`load_yaml` turns each of these into one
:class:`YAMLInputError` and returns only JSON-like data: dicts with string keys, lists, strings,
numbers, booleans and ``None``. Numbers with an exponent and no dot (``1e-3``) are floats, as in
YAML 1.2 and JSON (YAML 1.1 reads them as strings).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

MAX_BYTES = 1_000_000
"""Largest YAML text accepted (1 MB; scenario and tuned files are a few kB)."""
MAX_DEPTH = 40
"""Deepest nesting of mappings and lists."""
MAX_NODES = 200_000
"""Most nodes once aliases are expanded (what the data would hold in memory)."""


class YAMLInputError(ValueError):
    """YAML text that is malformed, hostile or not plain data; the message says why.

    ``field`` is the dotted path of the offending value when there is one (``<top>``: the file's
    top level), so callers can name it as they name every other field.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class _Loader(yaml.SafeLoader):
    """A safe loader that refuses nesting deeper than :data:`MAX_DEPTH` while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise YAMLInputError(f"nested deeper than {MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


_Loader.add_implicit_resolver(  # YAML 1.2 floats YAML 1.1 leaves as strings: 1e-3, 5E+2
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)[eE][-+]?[0-9]+$"),
    list("-+.0123456789"),
)


def _expanded_size(node: yaml.Node, sizes: dict[int, int], active: set[int]) -> int:
    """Nodes below ``node`` with every alias expanded (memoised, so bombs stay cheap)."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise YAMLInputError("an alias refers to a node that contains it (recursive data)")
    total = 1
    if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
        active.add(key)
        children = (
            node.value
            if isinstance(node, yaml.SequenceNode)
            else [n for pair in node.value for n in pair]
        )
        for child in children:
            total += _expanded_size(child, sizes, active)
            if total > MAX_NODES:
                raise YAMLInputError(f"expands to more than {MAX_NODES} values (aliases included)")
        active.discard(key)
    sizes[key] = total
    return total


def _plain(data: Any, path: str) -> None:
    """Refuse values that are not JSON-like (``!!binary``, ``!!set``, dates, non-string keys)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if not isinstance(key, str):
                raise YAMLInputError(f"key {key!r} is not text (quote it)", path or "<top>")
            _plain(value, f"{path}.{key}" if path else key)
    elif isinstance(data, list):
        for k, value in enumerate(data):
            _plain(value, f"{path}.{k}" if path else str(k))
    elif not isinstance(data, str | int | float | bool | type(None)):
        kind = type(data).__name__
        raise YAMLInputError(f"a {kind} value is not allowed (plain data only)", path or "<top>")


def load_yaml(text: str | bytes) -> Any:
    """Parse YAML ``text`` into plain data within the module's limits.

    Raises:
        YAMLInputError: the text is too large, malformed, hostile, or holds non-plain values.

    """
    if len(text) > MAX_BYTES:
        raise YAMLInputError(f"larger than {MAX_BYTES} bytes")
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise YAMLInputError("not a UTF-8 text file") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _expanded_size(node, {}, set())
        data = loader.construct_document(node)
    except YAMLInputError:
        raise
    except yaml.YAMLError as exc:
        raise YAMLInputError(_short(str(exc))) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise YAMLInputError(f"a value cannot be read: {_short(str(exc))}") from None
    finally:
        loader.dispose()
    _plain(data, "")
    return data


def _short(message: str, limit: int = 300) -> str:
    """``message`` on one line, cut to ``limit`` characters."""
    one = " ".join(message.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."
