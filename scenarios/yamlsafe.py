"""Reading YAML we did not write: scenario and team files come from users, importers and the internet.

`load_yaml(path)` returns the parsed data and a `LineMap` (field path -> line) so that a validation
error can name the line it is about. It never executes anything and fails fast, with a `YamlError`
that names the file and the line, on:

- files over the size cap (checked before reading), empty files, binary or non-UTF-8 files;
- YAML syntax errors;
- any tag beyond plain YAML (`!!python/...`, `!!binary`, `!custom` ...);
- alias bombs ("billion laughs"): the size of the document *after* expanding aliases is computed on the
  node graph without expanding it, and a document past `max_nodes` is refused; recursive aliases too;
- duplicate mapping keys (YAML keeps the last one silently, which hides mistakes).

Dates stay strings (`2024-01-31` is not turned into a `date`), so what we load is plain JSON data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_NODES", "LineMap", "YamlError", "format_path", "load_yaml", "parse_yaml"]

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null")}
_SEQ_TAG = _CORE + "seq"
_MAP_TAG = _CORE + "map"
_MERGE_TAG = _CORE + "merge"
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


class YamlError(Exception):
    """A file that is not acceptable YAML. `str()` is `file:line: message` (or `file: message`)."""

    def __init__(self, file: str | Path, line: int | None, message: str) -> None:
        self.file = str(file)
        self.line = line
        self.message = message
        super().__init__(str(self))

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message}"


class _Loader(yaml.SafeLoader):
    """SafeLoader without the implicit timestamp and value resolvers: dates stay strings, '=' is text."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_CORE + "timestamp", _CORE + "value")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def format_path(loc: Sequence[str | int]) -> str:
    """('conflicts', 1, 'options', 0, 'verdict') -> 'conflicts[1].options[0].verdict'."""
    out = ""
    for part in loc:
        if isinstance(part, int) and not isinstance(part, bool):
            out += f"[{part}]"
        elif isinstance(part, str) and _PLAIN_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{str(part)!r}]"
    return out


class LineMap(dict[str, int]):
    """Field path (see `format_path`; '' is the document) -> 1-based line where it is written."""

    def line_for(self, loc: Sequence[str | int]) -> int:
        """Line of `loc`, or of its nearest parent that is written in the file."""
        parts = list(loc)
        while parts:
            line = self.get(format_path(parts))
            if line is not None:
                return line
            parts.pop()
        return self.get("", 1)


def _display_tag(tag: str) -> str:
    return "!!" + tag[len(_CORE):] if tag.startswith(_CORE) else tag


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _Checker:
    """One pass over the node graph: tags, keys, depth, and the expanded size (memoised, no expansion)."""

    def __init__(self, file: str, max_nodes: int) -> None:
        self.file = file
        self.max_nodes = max_nodes
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()
        self.aliased = False

    def fail(self, node: Node, message: str) -> YamlError:
        return YamlError(self.file, _line(node), message)

    def size(self, node: Node, depth: int = 0) -> int:
        key = id(node)
        if key in self.sizes:
            self.aliased = True
            return self.sizes[key]
        if key in self.active:
            raise self.fail(node, "recursive alias: a node contains itself")
        if depth > MAX_DEPTH:
            raise self.fail(node, f"nested more than {MAX_DEPTH} levels deep")
        self.active.add(key)
        total = 1
        if isinstance(node, ScalarNode):
            if node.tag not in _SCALAR_TAGS:
                raise self.fail(node, _tag_message(node.tag))
        elif isinstance(node, SequenceNode):
            if node.tag != _SEQ_TAG:
                raise self.fail(node, _tag_message(node.tag))
            for item in node.value:
                total += self.size(item, depth + 1)
                self._check_total(node, total)
        elif isinstance(node, MappingNode):
            if node.tag != _MAP_TAG:
                raise self.fail(node, _tag_message(node.tag))
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, ScalarNode):
                    raise self.fail(key_node, "mapping keys must be plain words or numbers, not lists or mappings")
                if key_node.tag == _MERGE_TAG:
                    if not isinstance(value_node, (MappingNode, SequenceNode)):
                        raise self.fail(value_node, "'<<' (merge) needs a mapping or a list of mappings")
                elif key_node.tag not in _SCALAR_TAGS:
                    raise self.fail(key_node, _tag_message(key_node.tag))
                else:
                    if key_node.value in seen:
                        raise self.fail(key_node, f"duplicate key {key_node.value!r} (first on line {seen[key_node.value]})")
                    seen[key_node.value] = _line(key_node)
                total += 1 + self.size(value_node, depth + 1)
                self._check_total(node, total)
        self.active.discard(key)
        self.sizes[key] = total
        return total

    def _check_total(self, node: Node, total: int) -> None:
        if total > self.max_nodes:
            if self.aliased:
                raise self.fail(
                    node,
                    f"document too large after expanding aliases (more than {self.max_nodes:,} values); "
                    "is this an alias bomb? Write the values out instead of nesting '*' aliases",
                )
            raise self.fail(node, f"document too large (more than {self.max_nodes:,} values)")


def _tag_message(tag: str) -> str:
    return (
        f"tag {_display_tag(tag)!r} is not allowed: only plain YAML "
        "(text, numbers, true/false, null, lists and mappings) is accepted"
    )


def _build_linemap(node: Node) -> LineMap:
    linemap = LineMap()
    seen: set[int] = set()  # collections already walked: an alias repeats them, it adds no new line

    def walk(n: Node, loc: list[str | int]) -> None:
        linemap.setdefault(format_path(loc), _line(n))
        if isinstance(n, (SequenceNode, MappingNode)):
            if id(n) in seen:  # an alias (or a bomb of them): its lines are the anchor's; paths fall back to here
                return
            seen.add(id(n))
        if isinstance(n, SequenceNode):
            for i, item in enumerate(n.value):
                walk(item, [*loc, i])
        elif isinstance(n, MappingNode):
            own: list[tuple[Node, Node]] = []
            for key_node, value_node in n.value:
                if key_node.tag == _MERGE_TAG:
                    merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                    for source in merged:
                        if isinstance(source, MappingNode):
                            walk(source, loc)
                else:
                    own.append((key_node, value_node))
            for key_node, value_node in own:
                child = [*loc, _scalar_key(key_node)]
                linemap[format_path(child)] = _line(key_node)  # the key's line: where `field:` is written
                walk(value_node, child)

    walk(node, [])
    return linemap


def _scalar_key(node: Node) -> str | int:
    if node.tag == _CORE + "int":
        try:
            return int(node.value, 0)
        except ValueError:
            return node.value
    return node.value


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark else None
    problem = exc.problem or "not valid YAML"
    if "'\\t'" in problem:
        problem += " (YAML does not allow tabs for indentation; use spaces)"
    if exc.context and exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
        problem += f" ({exc.context} on line {exc.context_mark.line + 1})"
    elif exc.context:
        problem += f" ({exc.context})"
    return YamlError(file, line, f"YAML syntax error: {problem}")


def parse_yaml(text: str, file: str | Path = "<string>", *, max_nodes: int = MAX_NODES) -> tuple[Any, LineMap]:
    """Parse YAML text safely; see the module docstring for what is refused."""
    name = str(file)
    try:
        loader = _Loader(text)  # the reader refuses control characters at once
    except yaml.reader.ReaderError as exc:
        line = text[: exc.position].count("\n") + 1 if isinstance(exc.position, int) else None
        code = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        raise YamlError(name, line, f"control character U+{code:04X} is not allowed in YAML; remove it or write it as an escape in a double-quoted string") from None
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            if "expected a single document" in f"{exc.context} {exc.problem}":
                mark = exc.problem_mark
                raise YamlError(name, mark.line + 1 if mark else None, "more than one YAML document ('---'); put one per file") from None
            raise _syntax_error(name, exc) from None
        except yaml.YAMLError as exc:
            raise YamlError(name, None, f"YAML error: {exc}") from None
        except RecursionError:
            raise YamlError(name, None, "nested too deeply to read") from None
        if node is None:
            raise YamlError(name, None, "empty file (no YAML content)")
        _Checker(name, max_nodes).size(node)
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            raise _syntax_error(name, exc) from None
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise YamlError(name, _line(node), f"cannot read value: {exc}") from None
        return data, _build_linemap(node)
    finally:
        loader.dispose()


def load_yaml(path: str | Path, *, max_bytes: int = MAX_BYTES, max_nodes: int = MAX_NODES) -> tuple[Any, LineMap]:
    """Read a YAML file safely: `(data, linemap)`, or a `YamlError` naming the file and line."""
    p = Path(path)
    name = str(path)
    try:
        if not p.exists():
            raise YamlError(name, None, "no such file")
        if p.is_dir():
            raise YamlError(name, None, "is a folder, not a file")
        size = p.stat().st_size
        if size > max_bytes:
            raise YamlError(name, None, f"file too large ({size:,} bytes; the limit is {max_bytes:,})")
        with p.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise YamlError(name, None, f"cannot read: {exc.strerror or exc}") from None
    if len(raw) > max_bytes:
        raise YamlError(name, None, f"file too large (more than {max_bytes:,} bytes)")
    if b"\x00" in raw:
        raise YamlError(name, raw[: raw.index(b"\x00")].count(b"\n") + 1, "binary file (contains NUL bytes), not YAML text")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise YamlError(name, line, f"not UTF-8 text (byte 0x{raw[exc.start]:02x}); save the file as UTF-8") from None
    if not text.strip():
        raise YamlError(name, None, "empty file")
    return parse_yaml(text, name, max_nodes=max_nodes)
