"""A user's catalog file grown by `catalog add`: a model directory's numbers appended as a new entry. The
entry is appended as text (the file's content and comments stay as they were), each number with a comment
saying where it came from, checked to read back as read from the files, and written atomically."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from ascendgen.catalog import ModelSpec, load_catalog
from ascendgen.errors import InputError
from ascendgen.generated import write_file
from ascendgen.modeldir import ModelFromFiles, read_model_dir, served_path_in
from ascendgen.records import Record, RecordError, dump, validate
from ascendgen.request import DEFAULT_MODELS_DIR
from ascendgen.safetext import one_line
from ascendgen.yamlfile import read_yaml

__all__ = ["add_to_catalog", "append_entry", "entry_text"]

# The order models.yaml writes its fields in.
_FIELDS = ("hub_id", "served_name", "architecture", "kind", "attention", "num_layers", "hidden_size",
           "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size", "params_b", "active_params_b",
           "weight_bytes", "dtype", "quantization", "max_position_embeddings", "mla", "num_experts",
           "kv_cache_layers", "kv_cache_dtype", "vision", "serve_flags", "min_image", "min_transformers", "npus",
           "source")  # fmt: skip


def add_to_catalog(
    path: Path, catalog: Path, *, name: str | None = None, models_dir: str = DEFAULT_MODELS_DIR
) -> ModelFromFiles:
    """Read the directory, check the entry against the catalog file, and append it. Nothing is written when
    anything is refused."""
    if not path.is_dir():
        raise InputError(f"{path}: not a directory (give a model directory holding config.json)")
    try:
        hub_id: str | None = served_path_in(path, models_dir)
    except InputError:
        hub_id = None  # not below the models directory: <parent>/<name>, as a hub download is laid out
    found = read_model_dir(path, hub_id=hub_id)
    if name is not None:
        spec = _renamed(found.spec, name)
        found = ModelFromFiles(spec, found.directory, found.files_read, found.provenance, found.notes)
    existing = _read_existing(catalog)
    _refuse_duplicate(found.spec.name, catalog)
    text = append_entry(existing, catalog, found.spec, found.provenance)
    _check_reads_back(text, catalog, found.spec)
    write_file(catalog, text)
    return found


def _renamed(spec: ModelSpec, name: str) -> ModelSpec:
    try:
        return validate(ModelSpec, {**dump(spec), "name": name})
    except RecordError:
        raise InputError(
            f"--name {name!r}: a model name has letters, digits, '.', '_', '-', starting with a letter or digit"
        ) from None


def _read_existing(catalog: Path) -> str:
    if catalog.is_dir():
        raise InputError(f"--catalog {catalog} is a directory; give a YAML file")
    if not catalog.exists():
        return ""
    try:
        return catalog.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--catalog {catalog}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"--catalog {catalog}: not UTF-8 text") from None


def _refuse_duplicate(name: str, catalog: Path) -> None:
    """A name already in the file, or in the built-in catalog, is refused (an entry of that name would merge over
    it field by field)."""
    builtin = {m.name.lower() for m in load_catalog(()).models}
    if name.lower() in builtin:
        raise InputError(f"'{name}' is a model of the built-in catalog: pass --name to add this one under another name")
    if catalog.exists():
        data, _ = read_yaml(catalog)  # refuses malformed YAML, naming its line
        if data is None or data == {"models": None}:
            return  # no entries yet (an empty `models:` gets its first one)
        loaded = load_catalog([catalog])  # refuses a malformed entry, naming its line
        mine = {m.name.lower() for m in loaded.models} - builtin
        if name.lower() in mine:
            raise InputError(f"{catalog} already has a model named '{name}': pass --name to add it under another name")


def append_entry(existing: str, catalog: Path, spec: ModelSpec, provenance: Mapping[str, str]) -> str:
    """`existing` with the entry appended to its `models:` list, as text: whatever the file holds stays."""
    if not existing.strip() or _only_comments(existing):
        prefix = existing + ("\n" if existing and not existing.endswith("\n") else "")
        return prefix + "models:\n" + entry_text(spec, provenance, indent="  ")
    node = yaml.compose(existing, Loader=yaml.SafeLoader)
    models = _models_node(node, catalog)
    if models is None:
        indent = "  "
    elif isinstance(models, yaml.SequenceNode) and not models.flow_style:
        indent = " " * models.start_mark.column
    else:
        raise InputError(
            f"{catalog}:{models.start_mark.line + 1}: 'models' is not a block list ('- name: ...' lines); "
            "write it as one to add to it"
        )
    separator = "" if existing.endswith("\n") else "\n"
    return existing + separator + entry_text(spec, provenance, indent=indent)


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _models_node(node: yaml.Node | None, catalog: Path) -> yaml.Node | None:
    """The value of the top-level `models:` key (None when it is empty)."""
    if not isinstance(node, yaml.MappingNode):
        raise InputError(f"{catalog}: expected a mapping with 'models:'")
    for key, value in node.value:
        if key.value == "models":
            null = isinstance(value, yaml.ScalarNode) and value.tag.endswith(":null")
            return None if null else value
    raise InputError(f"{catalog}: no 'models:' list to add to")


def entry_text(spec: ModelSpec, provenance: Mapping[str, str], *, indent: str) -> str:
    """One catalog entry as YAML text, each value with a comment naming the file and key it came from."""
    data = dump(spec, exclude_defaults=True)
    lines = [f"{indent}- name: {_scalar(spec.name)}"]
    for field in _FIELDS:
        if field not in data:
            continue
        value = getattr(spec, field)
        line = f"{indent}  {field}: {_yaml_value(value)}"
        where = provenance.get(field) or _nested_provenance(field, provenance)
        if where:
            line += f"  # {one_line(where)}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def _nested_provenance(field: str, provenance: Mapping[str, str]) -> str:
    parts = [v for k, v in provenance.items() if k.startswith(f"{field}.")]
    return "; ".join(dict.fromkeys(parts))


def _yaml_value(value: Any) -> str:
    if isinstance(value, Record):
        value = dump(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_scalar(k)}: {_yaml_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_yaml_value(v) for v in value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a YAML double-quoted scalar


def _check_reads_back(text: str, catalog: Path, spec: ModelSpec) -> None:
    """The new text must parse, and its last entry must validate to exactly `spec`."""
    try:
        data = yaml.safe_load(text)
        entry = data["models"][-1]
        again = validate(ModelSpec, entry)
    except (yaml.YAMLError, KeyError, TypeError, IndexError, RecordError) as exc:
        problem = one_line(str(exc))
        raise InputError(f"{catalog}: the new entry would not read back ({problem}); nothing written") from None
    if again != spec:
        raise InputError(f"{catalog}: the new entry would not read back as read from the files; nothing written")
