"""Load YAML data files (catalog, hardware, images) and validate them with pydantic, turning every
problem into one line that names the file, the line, the entry and the field."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ascendgen.errors import CatalogError

M = TypeVar("M", bound=BaseModel)


class _Located:
    """The parsed document plus the YAML node tree, to find the line of any path inside it."""

    def __init__(self, node: yaml.Node | None) -> None:
        self._root = node

    def key_line(self, key: str) -> int | None:
        """The line of a top-level key itself."""
        return self.line_of([key])

    def line_of(self, path: Sequence[str | int]) -> int | None:
        """The line of the item at `path`: for a mapping key, the key's own line (where `kind:` is written,
        even when its value starts below it); for a list item, the item's first line."""
        node = self._root
        line = None if node is None else int(node.start_mark.line) + 1
        for key in path:
            if isinstance(node, yaml.MappingNode):
                pair = next(((k, v) for k, v in node.value if k.value == key), None)
                if pair is None:
                    return line
                line, node = int(pair[0].start_mark.line) + 1, pair[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
                node = node.value[key]
                line = int(node.start_mark.line) + 1
            else:
                return line
        return line


# libyaml's parser when PyYAML was built with it: ten times faster than the pure-Python one.
_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(path: Path) -> tuple[Any, _Located]:
    """Parse a YAML file once into both its data and its node tree (for line numbers)."""
    try:
        stat = path.stat()
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return _read_cached(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=32)
def _read_cached(path: Path, mtime_ns: int, size: int) -> tuple[Any, _Located]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise CatalogError(f"{path}: not UTF-8 text") from None
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}:{_error_line(exc, text)}: malformed YAML: {_problem(exc)}") from None
    finally:
        loader.dispose()
    return data, _Located(node)


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # the reader's errors (bad characters) carry an offset
    return text[: int(position)].count("\n") + 1 if isinstance(position, int) else 1


def _problem(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"character {exc.character!r} is not allowed in YAML"
    return str(getattr(exc, "problem", None) or str(exc).splitlines()[0])


def validate_entry(
    model: type[M],
    raw: Any,
    *,
    path: Path,
    located: _Located,
    loc_prefix: Sequence[str | int],
    what: str,
) -> M:
    """Validate one entry; on failure raise a CatalogError naming file, line, entry and field."""
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        field_path = [p for p in err["loc"] if p != "__root__"]
        field = ".".join(str(p) for p in field_path) or "(entry)"
        line = located.line_of([*loc_prefix, *field_path])
        message = err["msg"]
        if err["type"] == "extra_forbidden" and field_path:
            message = "unknown field" + did_you_mean(str(field_path[-1]), _field_names(model, field_path))
        elif err["type"] == "missing":
            message = "required field is missing"
        where = f"{path}:{line}" if line else str(path)
        raise CatalogError(f"{where}: {what}: {field}: {message}") from None


def _field_names(model: type[BaseModel], field_path: Sequence[str | int]) -> list[str]:
    current: Any = model
    for part in field_path[:-1]:
        if isinstance(part, int):
            continue  # an index into a list: the item's model is the list's
        info = getattr(current, "model_fields", {}).get(part)
        annotation = getattr(info, "annotation", None)
        current = _unwrap_model(annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _unwrap_model(arg)
        if found:
            return found
    return None


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """' (did you mean X?)' for an unknown name, or '' when nothing is close. A known name the word starts
    with wins (Qwen3-8B-Instruct -> Qwen3-8B), then the closest spelling, ignoring case."""
    lowered = {choice.lower(): choice for choice in choices}
    word_lower = word.lower()
    prefixes = [name for name in lowered if word_lower.startswith(name)]
    if prefixes:
        return f" (did you mean '{lowered[max(prefixes, key=len)]}'?)"
    close = difflib.get_close_matches(word_lower, list(lowered), n=1, cutoff=0.6)
    return f" (did you mean '{lowered[close[0]]}'?)" if close else ""


def load_merged_sections(
    paths: Sequence[Path],
    sections: Mapping[str, type[BaseModel]],
    *,
    singular: Mapping[str, str],
    key_field: str = "name",
) -> dict[str, list[Any]]:
    """Load named lists (e.g. `models:`) from several files, later files merging over earlier ones field
    by field: an entry with a known name changes only the fields it gives; a new name adds an entry."""
    merged: dict[str, dict[str, dict[str, Any]]] = {key: {} for key in sections}
    origin: dict[tuple[str, str], tuple[Path, _Located, int]] = {}
    for path in paths:
        data, located = read_yaml(path)
        if data is None:
            continue  # an empty file adds nothing
        if not isinstance(data, dict):
            expected = ", ".join(f"'{key}:'" for key in sections)
            raise CatalogError(f"{path}: expected a mapping with {expected}")
        for key in data:
            if key not in sections:
                hint = did_you_mean(str(key), list(sections))
                raise CatalogError(f"{path}:{located.key_line(str(key))}: unknown top-level key '{key}'{hint}")
        for key, items in data.items():
            if not isinstance(items, list):
                raise CatalogError(f"{path}:{located.line_of([key])}: '{key}' must be a list")
            seen: set[str] = set()
            for index, item in enumerate(items):
                line = located.line_of([key, index])
                name = item.get(key_field) if isinstance(item, dict) else None
                if not isinstance(name, str) or not name:
                    raise CatalogError(f"{path}:{line}: {key}[{index}]: each entry needs a '{key_field}'")
                if name.lower() in seen:
                    raise CatalogError(f"{path}:{line}: {singular[key]} '{name}' is listed twice")
                seen.add(name.lower())
                merged[key][name.lower()] = _merge(merged[key].get(name.lower(), {}), item)
                origin[(key, name.lower())] = (path, located, index)
    result: dict[str, list[Any]] = {}
    for key, model in sections.items():
        result[key] = []
        for lowered, raw in merged[key].items():
            path, located, index = origin[(key, lowered)]
            result[key].append(
                validate_entry(
                    model,
                    raw,
                    path=path,
                    located=located,
                    loc_prefix=[key, index],
                    what=f"{singular[key]} '{raw[key_field]}'",
                )
            )
    return result


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged
