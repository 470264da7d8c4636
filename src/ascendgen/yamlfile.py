"""Load YAML data files (catalog, hardware, images, deployment files) and validate them as records (ascendgen.records),
turning every problem into one line that names the file, the line, the entry and the field.

Every file ascendgen reads goes through `read_text_file`: a regular file only (never a device, FIFO or
directory), at most MAX_INPUT_BYTES, read in bounded chunks. An error about a file that does not parse
quotes nothing from it (it may be a secret a recipe pointed at), only its line and the kind of problem."""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Mapping, Sequence
from functools import cache, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

from ascendgen.errors import CatalogError
from ascendgen.records import Before, Record, RecordError, record_fields, validate

if TYPE_CHECKING:
    import yaml
# PyYAML is imported where a file is parsed: a plan of the built-in data (ascendgen.prevalidated) reads no YAML.

M = TypeVar("M", bound=Record)
T = TypeVar("T")

# The built-in models.yaml is ~22 KiB and a compose file a few KiB; 1 MiB of YAML already takes ~200 MB
# to parse into nodes, so nothing larger is read.
MAX_INPUT_BYTES = 1024 * 1024
MAX_INPUT_TEXT = "1 MiB"
_CHUNK_BYTES = 64 * 1024

# Every record read from YAML is strict (ascendgen.records): `port: yes` (a YAML boolean), `"8"` (text) or `1.0` are
# not an integer, and `.inf` / `.nan` are not a number (pydantic still takes an int for a float).


def _list_as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


# A YAML list read into a tuple (a strict tuple field refuses the list YAML gives); its items stay strict.
Items = Annotated[tuple[T, ...], Before(_list_as_tuple)]


class UnreadableFileError(CatalogError):
    """A file ascendgen refuses to read (not a regular file, too large, not UTF-8 text, no permission)."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


def read_text_file(path: Path, *, limit: int = MAX_INPUT_BYTES) -> str:
    """The UTF-8 text of the regular file at `path`, at most `limit` bytes, read in bounded chunks. A
    directory, device, FIFO or socket is refused before it is opened (a FIFO would block, /dev/zero never
    ends); the opened file is checked again, in case it was swapped in between."""
    try:
        _check_regular(path, os.stat(path), limit)
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        _check_regular(path, os.fstat(fd), limit)
        chunks: list[bytes] = []
        total = 0
        while chunk := os.read(fd, min(_CHUNK_BYTES, limit + 1 - total)):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:  # it grew after the check
                raise _too_large(path)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    try:
        return b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise UnreadableFileError(path, "not a text file (it is not UTF-8)") from None


def _check_regular(path: Path, info: os.stat_result, limit: int) -> None:
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFileError(path, "is a directory, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError(path, "not a regular file (a device, FIFO or socket); give a file")
    if info.st_size > limit:
        raise _too_large(path)


def _too_large(path: Path) -> UnreadableFileError:
    return UnreadableFileError(path, f"larger than {MAX_INPUT_TEXT}, the most ascendgen reads from an input file")


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
        import yaml

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


@cache
def _loader_class() -> Any:
    import yaml

    # libyaml's parser when PyYAML was built with it: ten times faster than the pure-Python one.
    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class _Loader(base):  # type: ignore[misc]
        """The safe loader, with a value its constructor cannot convert (`!!int abc`, a 13th month) reported as
        a YAML error at that value's line, instead of a ValueError that quotes it."""

        def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
            try:
                return super().construct_object(node, deep)
            except yaml.YAMLError:
                raise
            except (ValueError, TypeError, KeyError, AttributeError, OverflowError):
                raise yaml.constructor.ConstructorError(
                    None, None, f"a {_tag_kind(node)} value that cannot be read as one", node.start_mark
                ) from None

    return _Loader


def _tag_kind(node: yaml.Node) -> str:
    tag = str(node.tag)
    name = tag.rsplit(":", 1)[-1] if tag.startswith("tag:yaml.org,2002:") else "tagged"
    return name if re.fullmatch(r"[a-z]{1,12}", name) else "tagged"


def read_yaml(path: Path) -> tuple[Any, _Located]:
    """Parse a YAML file once into both its data and its node tree (for line numbers). A mapping that gives
    a key twice is refused (YAML loaders silently keep the last)."""
    try:
        info = os.stat(path)
    except OSError as exc:
        raise UnreadableFileError(path, f"cannot read: {exc.strerror or exc}") from None
    _check_regular(path, info, MAX_INPUT_BYTES)
    return _read_cached(path, info.st_mtime_ns, info.st_size, info.st_ino)


@lru_cache(maxsize=32)
def _read_cached(path: Path, mtime_ns: int, size: int, inode: int) -> tuple[Any, _Located]:
    import yaml

    text = read_text_file(path)
    loader = _loader_class()(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _refuse_duplicate_keys(path, node)
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}:{_error_line(exc, text)}: malformed YAML: {_problem(exc)}") from None
    except RecursionError:  # the pure-Python loader on deep nesting (libyaml stops it itself)
        raise CatalogError(f"{path}: malformed YAML: nested too deeply") from None
    finally:
        loader.dispose()
    return data, _Located(node)


def _refuse_duplicate_keys(path: Path, root: yaml.Node) -> None:
    """Every mapping in the node tree gives each key once. Walked without recursion, each node once (aliases
    share nodes: a billion-laughs file stays linear)."""
    import yaml

    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.Node] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    earlier = first.setdefault((str(key.tag), str(key.value)), key)
                    if earlier is not key:
                        line, first_line = key.start_mark.line + 1, earlier.start_mark.line + 1
                        raise CatalogError(
                            f"{path}:{line}: duplicate key{named(key.value)}: it is already given on line "
                            f"{first_line}; give each key once"
                        )
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


# A key an error may name: spelled like the keys ascendgen knows. Any other key is not quoted: the file
# may be no YAML of ours at all (`/etc/shadow` reads as a mapping whose key is its first line).
_PLAIN_KEY = re.compile(r"[a-z][a-z0-9_-]{0,39}")
_NEAR_KEY = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def named(key: object, known: Sequence[str] = ()) -> str:
    """ " 'key'" (with " (did you mean ...?)" when close to a `known` name) for a key an error may quote,
    else ""."""
    text = str(key)
    hint = did_you_mean(text, known) if known and _NEAR_KEY.fullmatch(text) else ""
    return f" '{text}'{hint}" if hint or _PLAIN_KEY.fullmatch(text) else ""


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return int(mark.line) + 1
    position = getattr(exc, "position", None)  # the reader's errors (bad characters) carry an offset
    return text[: int(position)].count("\n") + 1 if isinstance(position, int) else 1


def _problem(exc: yaml.YAMLError) -> str:
    """The kind of problem, without the file's text: PyYAML quotes tokens in its messages (an undefined
    alias, an unknown tag, a value it could not convert); only a single quoted character or a token type
    such as '<block end>' is kept."""
    import yaml

    if isinstance(exc, yaml.reader.ReaderError):
        character = exc.character
        shown = repr(chr(character) if isinstance(character, int) else character)
        return f"character {shown if len(shown) <= 12 else ''} is not allowed in YAML".replace("  ", " ")
    problem = getattr(exc, "problem", None)
    context = getattr(exc, "context", None)
    if problem == "second occurrence" and context:  # a duplicate anchor, in libyaml's words
        problem = "found a duplicate anchor"
    if not isinstance(problem, str) or not problem:
        problem = context if isinstance(context, str) and context else "not valid YAML"
    safe = _QUOTED.sub(_keep_if_safe, problem.splitlines()[0] if problem.strip() else "not valid YAML")
    return re.sub(r"\s{2,}", " ", safe).strip(" ,:")


# a quoted part of a PyYAML message, as repr() writes it
_QUOTED = re.compile(r"""\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")""")
# what may stay quoted: one character, escaped or not ('\t', ':')
_ONE_CHARACTER = re.compile(r"""\s*(['"])(.|\\[a-z0-9'"\\]|\\x[0-9a-f]{2}|\\u[0-9a-f]{4})\1""")


@cache
def _token_ids() -> frozenset[object]:
    """Or a token type ('<block end>'), from PyYAML's own list."""
    import yaml

    return frozenset({getattr(cls, "id", None) for cls in vars(yaml.tokens).values() if isinstance(cls, type)} - {None})


def _keep_if_safe(match: re.Match[str]) -> str:
    quoted = match.group(0)
    return quoted if _ONE_CHARACTER.fullmatch(quoted) or quoted.strip()[1:-1] in _token_ids() else ""


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
        return validate(model, raw)
    except RecordError as exc:
        err = exc.errors()[0]
        field_path = [p for p in err["loc"] if p != "__root__"]
        field = ".".join(str(p) for p in field_path) or "(entry)"
        line = located.line_of([*loc_prefix, *field_path])
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden" and field_path:
            known = _field_names(model, field_path)
            message = "unknown field" + did_you_mean(str(field_path[-1]), known)
            if not loc_prefix and len(field_path) == 1 and not named(field_path[0], known):
                # the file may be no YAML of ours (a recipe pointed -f at a secret): quote nothing from it
                raise CatalogError(f"{path}:{line}: {what}: unknown top-level key") from None
        elif err["type"] == "missing":
            message = "required field is missing"
        elif err["type"] in _TYPE_MESSAGES:
            message = _TYPE_MESSAGES[err["type"]] + _what_it_is(err["input"])
            if err["type"] == "string_type" and isinstance(err["input"], (bool, int, float)):
                message += " (put it in quotes)"
        where = f"{path}:{line}" if line else str(path)
        raise CatalogError(f"{where}: {what}: {field}: {message}") from None


# strict types: what a field wants, then what YAML gave instead (`yes` is a boolean, `"8"` is text)
_TYPE_MESSAGES = {
    "int_type": "must be a whole number",
    "float_type": "must be a number",
    "string_type": "must be text",
    "bool_type": "must be true or false",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "dataclass_type": "must be a mapping",
    "finite_number": "must be a finite number",
}


def _what_it_is(value: Any) -> str:
    if isinstance(value, bool):
        return ", not a boolean (YAML reads yes/no/on/off/true/false as one)"
    if isinstance(value, str):
        return ", not text (write a number without quotes)" if _looks_numeric(value) else ", not text"
    if isinstance(value, float) and value != value:
        return ", not .nan"
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return ", not .inf"
    kinds = {int: "a whole number", float: "a decimal number", list: "a list", dict: "a mapping", type(None): "empty"}
    kind = next((name for cls, name in kinds.items() if isinstance(value, cls)), None)
    return f", not {kind}" if kind else ""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _field_names(model: type[Record], field_path: Sequence[str | int]) -> list[str]:
    current = model
    for part in field_path[:-1]:
        if isinstance(part, int):
            continue  # an index into a list: the item's record is the list's
        inner = _unwrap_record(record_fields(current).get(str(part)))
        if inner is None:
            return []
        current = inner
    return list(record_fields(current))


def _unwrap_record(annotation: Any) -> type[Record] | None:
    if isinstance(annotation, type) and issubclass(annotation, Record):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _unwrap_record(arg)
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
    sections: Mapping[str, type[Record]],
    *,
    singular: Mapping[str, str],
    key_field: str | Mapping[str, str] = "name",
) -> dict[str, list[Any]]:
    """Load named lists (e.g. `models:`) from several files, later files merging over earlier ones field
    by field: an entry with a known name changes only the fields it gives; a new name adds an entry.
    `key_field` names the field entries are known by: one for every section, or one per section.

    The validated entries (frozen models) are kept for the same files as they are now (path, modification time,
    size, inode, as read_yaml keeps the parsed file): `check` of many compose files whose recipes name the same
    --catalog validates it once, and a recipe naming another file, or the file changed, is loaded anew."""
    keys = {key: key_field if isinstance(key_field, str) else key_field[key] for key in sections}
    try:
        files = tuple((path, *file_identity(path)) for path in paths)
    except OSError:  # not there (or not readable): the loading below says so, as it always did
        return _load_merged(tuple(paths), sections, singular, keys)
    loaded = _load_merged_cached(files, tuple(sections.items()), tuple(singular.items()), tuple(keys.items()))
    return {key: list(entries) for key, entries in loaded}


def file_identity(path: Path | str) -> tuple[int, int, int]:
    """A file as it is now: modification time, size, inode (a rewrite in place changes the first; raises OSError)."""
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size, info.st_ino


@lru_cache(maxsize=16)
def _load_merged_cached(
    files: tuple[tuple[Path, int, int, int], ...],
    sections: tuple[tuple[str, type[Record]], ...],
    singular: tuple[tuple[str, str], ...],
    keys: tuple[tuple[str, str], ...],
) -> tuple[tuple[str, tuple[Any, ...]], ...]:
    loaded = _load_merged(tuple(file[0] for file in files), dict(sections), dict(singular), dict(keys))
    return tuple((key, tuple(entries)) for key, entries in loaded.items())


def _load_merged(
    paths: Sequence[Path],
    sections: Mapping[str, type[Record]],
    singular: Mapping[str, str],
    keys: Mapping[str, str],
) -> dict[str, list[Any]]:
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
                raise CatalogError(
                    f"{path}:{located.key_line(str(key))}: unknown top-level key{named(key, list(sections))}"
                )
        for key, items in data.items():
            if not isinstance(items, list):
                raise CatalogError(f"{path}:{located.line_of([key])}: '{key}' must be a list")
            seen: set[str] = set()
            for index, item in enumerate(items):
                line = located.line_of([key, index])
                name = item.get(keys[key]) if isinstance(item, dict) else None
                if not isinstance(name, str) or not name:
                    raise CatalogError(f"{path}:{line}: {key}[{index}]: each entry needs a '{keys[key]}'")
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
                    what=f"{singular[key]} '{raw[keys[key]]}'",
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
