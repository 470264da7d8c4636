"""A model planned from its directory: config.json (a vision-language model's text_config), tokenizer_config.json,
the safetensors headers and a quantized build's description, read into the catalog's ModelSpec so that the planner
does not know the difference. Every number says where it came from (`ModelFromFiles.provenance`).

Reads files, never tensors: a safetensors file starts with an 8-byte little-endian header length and that many
bytes of JSON naming each tensor's dtype, shape and byte range. No Docker, no printing. A field that is missing or
contradicts another is refused naming the file and the field, never guessed."""

from __future__ import annotations

import json
import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Annotated, Any, Literal

from ascendgen.catalog import Catalog, ModelSpec, Quantization
from ascendgen.datafiles import data_file
from ascendgen.errors import InputError
from ascendgen.images import ImageSpec, load_images, tag_key
from ascendgen.planner import weights_gib
from ascendgen.records import Record, RecordError, Rule, dump, validate
from ascendgen.safetext import one_line
from ascendgen.yamlfile import file_identity, load_merged_sections

__all__ = [
    "CONFIG_FILE",
    "ModelFromFiles",
    "ResolvedModel",
    "is_model_dir",
    "read_model_dir",
    "resolve_model",
    "served_path_in",
]

CONFIG_FILE = "config.json"
TOKENIZER_CONFIG_FILE = "tokenizer_config.json"
# vLLM loads only the shards this index names when it exists (vllm/model_executor/model_loader/weight_utils.py
# filter_duplicate_safetensors_files, index_file SAFE_WEIGHTS_INDEX_NAME), else every *.safetensors in the directory.
INDEX_FILE = "model.safetensors.index.json"
# ModelSlim's description of a quantized build (vllm_ascend/quantization/modelslim_config.py MODELSLIM_CONFIG_FILENAME)
MODELSLIM_FILE = "quant_model_description.json"
# NVIDIA ModelOpt writes its quantization here instead of config.json
MODELOPT_FILE = "hf_quant_config.json"
# A safetensors header is JSON of a few hundred bytes per tensor: DeepSeek-V3's largest shard header is ~0.2 MB. A
# length beyond this is a corrupt file (or not safetensors), not a header to read into memory.
MAX_HEADER_BYTES = 100 * 1024**2
MAX_JSON_BYTES = 256 * 1024**2  # a ModelSlim description of a 671B MoE lists ~100k layers: tens of MB
# An index whose total_size is further than this from what its shards hold contradicts them.
INDEX_TOLERANCE = 0.01
# Weights further than this from the catalog's params_b x bytes per parameter count as a difference (the catalog's
# params_b is the model card's rounded count: Qwen3-8B 8.2B = 16.4 GB vs 16.38 GB in its index).
WEIGHTS_TOLERANCE = 0.05
# vllm-ascend gives GQA attention layers an int8 KV cache for a build whose description says kv_cache_type C8 from
# vLLM-Ascend v0.19.1rc1 (PR #7474, commit 2965280bf8, "add C8 INT8 KV cache support for GQA attention models").
C8_MIN_IMAGE = "v0.19.1rc1"

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_EXPERT_TENSOR = re.compile(r"(?:^|\.)experts\.")  # routed experts; shared_experts / shared_expert do not match
_LAYER_ID = re.compile(r"\.(\d+)\.")
_DTYPE_BYTES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
                "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}  # fmt: skip
# The config.json keys vLLM takes the default max_model_len from, the smallest present (vllm/config/model.py,
# _get_and_verify_max_len possible_keys).
_MAX_LEN_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "model_max_length",
                 "max_target_positions", "max_sequence_length", "max_seq_length", "seq_len")  # fmt: skip
# Layer types with a fixed-size state per request instead of a KV cache growing with the context.
_NO_KV_LAYER_TYPES = frozenset({"linear_attention", "mamba"})
_TEXT_CONFIG_KEYS = ("text_config", "language_config", "llm_config")
_TAG = r"^v\d+\.\d+\.\d+"


# ------------------------------------------------------------------------------- architectures.yaml


@dataclass(frozen=True, kw_only=True)
class ArchitectureSpec(Record):
    """One config.json architecture: whether vllm-ascend runs it and from which image."""

    name: Annotated[str, Rule(min_length=1)]
    supported: bool
    reason: str | None = None
    min_image: Annotated[str, Rule(pattern=_TAG)] | None = None
    min_transformers: Annotated[str, Rule(pattern=r"^\d+\.\d+")] | None = None
    source: Annotated[str, Rule(min_length=1)]

    def _check(self) -> None:
        if not self.supported and not self.reason:
            raise ValueError("an architecture vllm-ascend does not run needs a 'reason'")


@dataclass(frozen=True, kw_only=True)
class QuantizationSpec(Record):
    """One quantized format: planned (with a label) or refused (with a reason)."""

    name: Annotated[str, Rule(min_length=1)]
    label: Quantization | None = None
    reason: str | None = None
    min_image: Annotated[str, Rule(pattern=_TAG)] | None = None
    source: Annotated[str, Rule(min_length=1)]

    def _check(self) -> None:
        if (self.label is None) == (self.reason is None):
            raise ValueError("give a 'label' (planned) or a 'reason' (refused), one of the two")


@dataclass(frozen=True)
class KnownFormats:
    architectures: Mapping[str, ArchitectureSpec]
    quantizations: Mapping[str, QuantizationSpec]


@cache
def known_formats() -> KnownFormats:
    loaded = load_merged_sections(
        [data_file("architectures.yaml")],
        {"architectures": ArchitectureSpec, "quantizations": QuantizationSpec},
        singular={"architectures": "architecture", "quantizations": "quantization"},
    )
    return KnownFormats(
        architectures={a.name: a for a in loaded["architectures"]},
        quantizations={q.name: q for q in loaded["quantizations"]},
    )


# ------------------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class ModelFromFiles:
    """A model read from its directory: the ModelSpec the planner takes, and where each of its numbers came from."""

    spec: ModelSpec
    directory: Path
    files_read: tuple[str, ...]
    provenance: Mapping[str, str]  # ModelSpec field -> the file and key it came from
    notes: tuple[str, ...] = ()  # what the plan should warn about (an architecture the table does not know, ...)


@dataclass(frozen=True)
class ResolvedModel:
    """The model an instance names, with where its numbers came from: the catalog, or a directory's files."""

    spec: ModelSpec
    source: Literal["catalog", "files"] = "catalog"
    files_read: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def is_model_dir(text: str) -> bool:
    """An existing directory holding config.json: what `plan PATH` plans from its files."""
    try:
        return Path(text, CONFIG_FILE).is_file()
    except (OSError, ValueError):
        return False


# ------------------------------------------------------------------------------------- the directory


def read_model_dir(path: Path, *, hub_id: str | None = None, served_name: str | None = None) -> ModelFromFiles:
    """Read a model directory into a ModelSpec named after the directory. `hub_id` is its path below the models
    directory (default: the parent's name / the directory's name).

    What was read is kept while the directory and every file read from it are as they were (modification time,
    size, inode): `check` of many compose files planning the same downloaded model reads its headers once (a MoE
    model's tens of thousands of tensors take ~0.1 s each time). A file added, removed or renamed changes the
    directory's modification time; a file rewritten, its own."""
    key = (os.path.abspath(path), str(path), hub_id, served_name)
    kept = _READ.get(key)
    if kept is not None and kept[0] == _state(Path(path), kept[1].files_read):
        return kept[1]
    found = _read_model_dir(Path(path), hub_id=hub_id, served_name=served_name)
    if len(_READ) >= _KEPT_DIRECTORIES:
        _READ.clear()
    _READ[key] = (_state(Path(path), found.files_read), found)
    return found


_KEPT_DIRECTORIES = 64
_READ: dict[tuple[str, str, str | None, str | None], tuple[tuple[tuple[int, ...] | None, ...], ModelFromFiles]] = {}


def _state(directory: Path, files: Iterable[str]) -> tuple[tuple[int, ...] | None, ...]:
    """The directory's and the files' modification time, size and inode (None for one that is gone)."""

    def identity(path: Path | str) -> tuple[int, ...] | None:
        try:
            return file_identity(path)
        except OSError:
            return None

    return (identity(directory), *(identity(name) for name in files))


def _read_model_dir(directory: Path, *, hub_id: str | None, served_name: str | None) -> ModelFromFiles:
    config_path = directory / CONFIG_FILE
    if not config_path.is_file():
        raise InputError(f"{directory}: no {CONFIG_FILE} (a model directory holds config.json and *.safetensors)")
    name = directory.resolve().name if directory.name in ("", ".", "..") else directory.name
    if not _NAME.match(name):
        raise InputError(
            f"{directory}: the directory name {name!r} cannot name a model (letters, digits, '.', '_', '-', starting "
            "with a letter or digit): rename the directory"
        )
    if hub_id is None:
        parent = directory.resolve().parent.name
        hub_id = f"{parent}/{name}" if _NAME.match(parent) else name
    reading = _Reading()
    config = ConfigJson(config_path, reading.json(config_path, required=True))
    tokenizer_path = directory / TOKENIZER_CONFIG_FILE
    tokenizer = reading.json(tokenizer_path) if tokenizer_path.is_file() else None

    architecture = config.architecture()
    formats = known_formats()
    known = formats.architectures.get(architecture)
    if known is not None and not known.supported:
        raise InputError(f"{config_path}: architectures[0] {architecture}: {known.reason}")
    quant = _quantization(directory, config, reading, formats)
    weights = _read_weights(directory, reading)
    values: dict[str, Any] = {"name": name, "hub_id": hub_id, "architecture": architecture}
    provenance: dict[str, str] = {"architecture": f"{CONFIG_FILE} architectures[0]"}
    notes: list[str] = []
    if known is None:
        notes.append(
            f"{architecture} is not in ascendgen's architecture table (architectures.yaml): vllm-ascend's support "
            "matrix does not list it, so it may not load"
        )
    if served_name is not None:
        values["served_name"] = served_name

    _shape(config, values, provenance)
    _attention(config, values, provenance, notes)
    values["max_position_embeddings"], provenance["max_position_embeddings"] = _max_model_len(config, tokenizer)
    values["dtype"], provenance["dtype"] = _dtype(config, weights)
    values["vision"] = config.vision()
    if values["vision"]:
        provenance["vision"] = f"{CONFIG_FILE} {config.vision_key()}"
    _weights(config, weights, values, provenance)
    _moe(config, weights, values, provenance)
    _apply_quantization(quant, values, provenance, notes)
    _image_needs(config, known, quant, values, provenance, notes)
    values["source"] = config_path.resolve().as_uri()
    try:
        spec = validate(ModelSpec, values)
    except RecordError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"]) or "the model"
        raise InputError(f"{config_path}: {where}: {error['msg']}") from None
    return ModelFromFiles(spec, directory, tuple(reading.files), provenance, tuple(notes))


class _Reading:
    """The files read so far, in order, and bounded JSON reading."""

    def __init__(self) -> None:
        self.files: list[str] = []

    def note(self, path: Path) -> None:
        self.files.append(os.path.abspath(path))

    def json(self, path: Path, *, required: bool = False) -> Any:
        try:
            size = path.stat().st_size
            if size > MAX_JSON_BYTES:
                raise InputError(f"{path}: {size} bytes is too large for a model's JSON file (corrupt?)")
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if required:
                raise InputError(f"{path}: missing") from None
            return None
        except OSError as exc:
            raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(data, dict):
            raise InputError(f"{path}: expected a JSON object")
        self.note(path)
        return data


class ConfigJson:
    """config.json, looked up the way vLLM reads it: a vision-language model's numbers in its text config
    (vllm/transformers_utils/config.py get_hf_text_config), with the top level for what the text config lacks."""

    def __init__(self, path: Path, data: dict[str, Any]) -> None:
        self.path = path
        self.top = data
        self.text_key = next((k for k in _TEXT_CONFIG_KEYS if isinstance(data.get(k), dict)), None)
        self.text: dict[str, Any] = data[self.text_key] if self.text_key else {}

    def where(self, key: str) -> str:
        if self.text_key and self.text.get(key) is not None:  # as get(): a null in the text config is absent
            return f"{CONFIG_FILE} {self.text_key}.{key}"
        return f"{CONFIG_FILE} {key}"

    def get(self, key: str) -> Any:
        """The value of `key` (None when absent or null), text config first."""
        if self.text_key and self.text.get(key) is not None:
            return self.text[key]
        return self.top.get(key)

    def first(self, keys: Iterable[str]) -> tuple[str, Any] | None:
        for key in keys:
            value = self.get(key)
            if value is not None:
                return key, value
        return None

    def count(self, keys: tuple[str, ...], *, what: str) -> tuple[int, str]:
        """A required positive whole number under the first of `keys` present."""
        found = self.first(keys)
        if found is None:
            raise InputError(f"{self.path}: {keys[0]} is missing ({what}); ascendgen needs it to size the model")
        key, value = found
        return self.positive(key, value), self.where(key)

    def positive(self, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise InputError(f"{self.path}: {self.where(key).split(' ', 1)[1]} must be a positive whole number, "
                             f"not {value!r}")  # fmt: skip
        return value

    def optional_count(self, keys: tuple[str, ...]) -> tuple[int, str] | None:
        found = self.first(keys)
        return None if found is None else (self.positive(found[0], found[1]), self.where(found[0]))

    def architecture(self) -> str:
        archs = self.top.get("architectures")
        if not isinstance(archs, list) or not archs or not isinstance(archs[0], str) or not archs[0]:
            raise InputError(f"{self.path}: architectures is missing (a list naming the model class, e.g. "
                             "[\"Qwen3ForCausalLM\"])")  # fmt: skip
        return archs[0]

    def model_type(self) -> str:
        value = self.get("model_type")
        return value if isinstance(value, str) else ""

    def vision(self) -> bool:
        return "vision_config" in self.top or self.text_key is not None

    def vision_key(self) -> str:
        return "vision_config" if "vision_config" in self.top else str(self.text_key)


# ------------------------------------------------------------------------------------- config.json


# The names config.json files give a number, as vLLM reads them (vllm/config/model.py get_num_layers,
# get_total_num_kv_heads; transformers' GPT-2 / ChatGLM / Falcon configs): the first one present counts.
LAYER_KEYS = ("num_hidden_layers", "num_layers", "n_layer")
HEAD_KEYS = ("num_attention_heads", "n_head")
KV_HEAD_KEYS = ("num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")


def _shape(config: ConfigJson, values: dict[str, Any], provenance: dict[str, str]) -> None:
    for field_name, keys, what in (
        ("num_layers", LAYER_KEYS, "decoder layers"),
        ("hidden_size", ("hidden_size", "n_embd", "d_model"), "hidden size"),
        ("num_attention_heads", HEAD_KEYS, "attention heads"),
        ("vocab_size", ("vocab_size",), "vocabulary size"),
    ):
        values[field_name], provenance[field_name] = config.count(keys, what=what)


def _attention(config: ConfigJson, values: dict[str, Any], provenance: dict[str, str], notes: list[str]) -> None:
    heads, hidden = values["num_attention_heads"], values["hidden_size"]
    # vLLM get_total_num_kv_heads: n_head_kv, num_kv_heads, num_key_value_heads, multi_query_group_num, else the
    # attention heads (vllm/config/model.py); transformers' LlamaConfig defaults num_key_value_heads the same way.
    kv = config.optional_count(KV_HEAD_KEYS)
    if kv is None:
        kv_heads, provenance["num_key_value_heads"] = (
            heads,
            (
                f"= num_attention_heads: {CONFIG_FILE} has no num_key_value_heads (vLLM get_total_num_kv_heads and "
                "transformers LlamaConfig take the attention heads)"
            ),
        )
    else:
        kv_heads, provenance["num_key_value_heads"] = kv
    if kv_heads > heads or heads % kv_heads:
        raise InputError(
            f"{config.path}: num_key_value_heads {kv_heads} does not divide num_attention_heads {heads}: "
            "the file contradicts itself"
        )
    values["num_key_value_heads"] = kv_heads

    kv_lora_rank = config.get("kv_lora_rank")
    if kv_lora_rank is not None:  # MLA (DeepSeek V2/V3, Kimi K2, GLM-4.7-Flash): one latent per token and layer
        mla = {}
        for key in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"):
            mla[key], provenance[f"mla.{key}"] = config.count((key,), what="multi-head latent attention")
        values["attention"], values["mla"] = "mla", mla
        provenance["attention"] = f"{CONFIG_FILE} kv_lora_rank (multi-head latent attention)"
        # vLLM's head size without the MLA kernels: qk_nope_head_dim + qk_rope_head_dim (get_head_size)
        values["head_dim"] = mla["qk_nope_head_dim"] + mla["qk_rope_head_dim"]
        provenance["head_dim"] = f"{CONFIG_FILE} qk_nope_head_dim + qk_rope_head_dim"
    else:
        values["attention"], provenance["attention"] = "gqa", f"{CONFIG_FILE} has no kv_lora_rank (not MLA)"
        head_dim = config.optional_count(("head_dim",))
        if head_dim is not None:
            values["head_dim"], provenance["head_dim"] = head_dim
        else:
            if hidden % heads:
                raise InputError(f"{config.path}: head_dim is missing and hidden_size {hidden} is not a multiple of "
                                 f"num_attention_heads {heads}")  # fmt: skip
            # vLLM get_head_size and transformers' configs: hidden_size // num_attention_heads when not given
            values["head_dim"] = hidden // heads
            provenance["head_dim"] = f"= hidden_size / num_attention_heads: {CONFIG_FILE} has no head_dim"
    layers, where = _kv_cache_layers(config, values["num_layers"])
    if layers is not None:
        values["kv_cache_layers"], provenance["kv_cache_layers"] = layers, where
    if _has_sliding_window(config):
        notes.append(
            "sliding-window layers are counted with a full-length KV cache (conservative: whether an image's vLLM "
            "shrinks them depends on its hybrid KV cache manager)"
        )


def _kv_cache_layers(config: ConfigJson, num_layers: int) -> tuple[int | None, str]:
    """Layers with a KV cache that grows with the context, when some layers have none (linear attention)."""
    layer_types = config.get("layer_types")
    if layer_types is not None:
        if not isinstance(layer_types, list) or not all(isinstance(t, str) for t in layer_types):
            raise InputError(f"{config.path}: layer_types must be a list of layer type names")
        if len(layer_types) != num_layers:
            raise InputError(f"{config.path}: layer_types lists {len(layer_types)} layers but num_hidden_layers is "
                             f"{num_layers}: the file contradicts itself")  # fmt: skip
        with_kv = sum(1 for t in layer_types if t not in _NO_KV_LAYER_TYPES)
        where = f"{config.where('layer_types')}: {with_kv} of {num_layers} layers are attention layers"
    else:
        interval = config.get("full_attention_interval")
        if interval is None and config.model_type() != "qwen3_next":
            return None, ""
        # transformers Qwen3NextConfig: layer i is full attention when (i + 1) % full_attention_interval == 0
        # (default 4), the others linear attention
        if interval is None:
            interval, source = 4, "Qwen3NextConfig's default full_attention_interval 4"
        else:
            interval, source = (
                config.positive("full_attention_interval", interval),
                config.where("full_attention_interval"),
            )
        with_kv = num_layers // interval
        where = f"{source}: every {interval}th of {num_layers} layers is full attention"
    if with_kv == 0:
        raise InputError(f"{config.path}: no layer is an attention layer; ascendgen plans models with a KV cache")
    if with_kv == num_layers:
        return None, ""
    return with_kv, where + " (linear-attention layers keep a fixed-size state, no KV cache)"


def _has_sliding_window(config: ConfigJson) -> bool:
    layer_types = config.get("layer_types")
    if isinstance(layer_types, list) and "sliding_attention" in layer_types:
        return True
    return config.get("sliding_window") is not None and config.get("use_sliding_window") is not False


def _max_model_len(config: ConfigJson, tokenizer: dict[str, Any] | None) -> tuple[int, str]:
    """The max_model_len vLLM derives when none is given (vllm/config/model.py _get_and_verify_max_len): the
    smallest of the length keys present, model_max_length winning when set, capped by tokenizer_config.json's
    model_max_length, then times the RoPE scaling factor for the types that extend the context."""
    found: list[tuple[int, str]] = []
    for key in _MAX_LEN_KEYS:
        value = config.get(key)
        if value is not None:
            found.append((_length(config, key, value), key))
    if not found:
        raise InputError(
            f"{config.path}: max_position_embeddings is missing (nor any of {', '.join(_MAX_LEN_KEYS[1:])}): "
            "ascendgen cannot tell the model's context length"
        )
    length, key = min(found)
    why = config.where(key)
    model_max = config.get("model_max_length")
    if model_max is not None:
        length, why = _length(config, "model_max_length", model_max), config.where("model_max_length")
    if tokenizer is not None:
        limit = tokenizer.get("model_max_length")
        if isinstance(limit, int | float) and not isinstance(limit, bool) and 0 < limit < length:
            length, why = int(limit), f"{TOKENIZER_CONFIG_FILE} model_max_length"
    rope = config.get("rope_parameters") or config.get("rope_scaling")
    if isinstance(rope, dict) and rope and "gemma3" not in config.model_type():
        # transformers 5 may give one rope dict per layer type
        per_type = list(rope.values()) if all(isinstance(v, dict) for v in rope.values()) else [rope]
        factor: float = 1.0
        for params in per_type:
            rope_type = params.get("rope_type") or params.get("type") or "default"
            if rope_type in ("su", "longrope", "llama3"):
                continue
            raw_factor = params.get("factor")
            if raw_factor is not None:
                if isinstance(raw_factor, bool) or not isinstance(raw_factor, int | float) or not raw_factor > 0:
                    raise InputError(f"{config.path}: rope factor must be a positive number, not {raw_factor!r}")
                factor = float(raw_factor)
            if rope_type == "yarn":
                original = params.get("original_max_position_embeddings")
                if original is None:
                    raise InputError(f"{config.path}: yarn rope scaling without original_max_position_embeddings")
                length = _length(config, "original_max_position_embeddings", original)
                why = f"{CONFIG_FILE} rope original_max_position_embeddings"
        if factor != 1.0:
            length, why = int(length * factor), f"{why} x rope factor {factor:g}"
        if any((p.get("rope_type") or p.get("type")) == "longrope" for p in per_type):
            original = config.get("original_max_position_embeddings")
            if original is not None:  # LongRoPE: vLLM's default is the original length
                length, why = (
                    _length(config, "original_max_position_embeddings", original),
                    config.where("original_max_position_embeddings"),
                )
    return length, f"{why} (vLLM's default max_model_len)"


def _length(config: ConfigJson, key: str, value: Any) -> int:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return config.positive(key, value)


def _named_dtype(config: ConfigJson) -> tuple[str, Any] | None:
    """config.json's dtype as vLLM reads it (_find_dtype): the top level first, then the text config."""
    for key in ("dtype", "torch_dtype"):
        if config.top.get(key) is not None:
            return key, config.top[key]
    return config.first(("dtype", "torch_dtype"))


def _dtype(config: ConfigJson, weights: _Weights) -> tuple[Literal["bfloat16", "float16"], str]:
    found = _named_dtype(config)
    if found is not None:
        key, value = found
        where = f"{CONFIG_FILE} {key}" if config.top.get(key) is not None else config.where(key)
        if value in ("bfloat16", "float16"):
            return value, where
        if value == "float32":
            # vLLM loads a float32 checkpoint in the platform's first dtype, bfloat16 (vllm/config/model.py
            # _resolve_auto_dtype); its float32 tensors then take 2 bytes each (weight_bytes)
            return "bfloat16", f"{where} float32, loaded as bfloat16 (vLLM _resolve_auto_dtype)"
        raise InputError(f"{config.path}: {key} {value!r} is not a dtype ascendgen plans (bfloat16, float16, float32)")
    # vLLM reads the dtype of the safetensors tensors when config.json names none (_find_dtype)
    floats = weights.float_dtypes
    if floats == {"BF16"} or floats == {"BF16", "F32"}:
        return "bfloat16", "safetensors headers (BF16 tensors; config.json names no dtype)"
    if floats == {"F16"} or floats == {"F16", "F32"}:
        return "float16", "safetensors headers (F16 tensors; config.json names no dtype)"
    raise InputError(f"{config.path}: torch_dtype is missing and the weights' dtypes ({', '.join(sorted(floats))}) do "
                     "not settle it")  # fmt: skip


def _moe(config: ConfigJson, weights: _Weights, values: dict[str, Any], provenance: dict[str, str]) -> None:
    experts = config.optional_count(("num_experts", "n_routed_experts", "num_local_experts"))
    values["params_b"] = _billions(weights.elements)
    provenance["params_b"] = "safetensors headers: elements stored (a packed 4-bit weight counts once per byte)"
    if experts is None or experts[0] < 2:
        values["kind"], provenance["kind"] = "dense", f"{CONFIG_FILE} names no routed experts (num_experts, ...)"
        return
    values["kind"], values["num_experts"] = "moe", experts[0]
    provenance["kind"] = provenance["num_experts"] = experts[1]
    active, where = config.count(("num_experts_per_tok", "experts_per_token", "moe_topk"), what="experts per token")
    if active > experts[0]:
        raise InputError(f"{config.path}: {where.split(' ', 1)[1]} {active} is more than the {experts[0]} experts")
    idle = 1 - active / experts[0]
    if weights.expert_elements:
        # every stored element minus the routed experts a token does not use
        values["active_params_b"] = _billions(weights.elements - weights.expert_elements * idle)
        provenance["active_params_b"] = (
            f"safetensors headers: all elements minus the routed experts' x (1 - {active}/{experts[0]}) ({where})"
        )
        return
    # no tensor named like a routed expert: estimate from the dimensions (3 projections per expert, every layer
    # after first_k_dense_replace a MoE layer)
    intermediate = config.optional_count(("moe_intermediate_size", "intermediate_size"))
    if intermediate is None:
        raise InputError(f"{config.path}: moe_intermediate_size is missing and no tensor is named like an expert: "
                         "ascendgen cannot tell the active parameters")  # fmt: skip
    dense_first = config.get("first_k_dense_replace") or 0
    moe_layers = max(0, values["num_layers"] - int(dense_first))
    idle_elements = 3 * values["hidden_size"] * intermediate[0] * (experts[0] - active) * moe_layers
    values["active_params_b"] = _billions(max(1, weights.elements - idle_elements))
    provenance["active_params_b"] = (
        f"estimated: elements stored minus 3 x hidden_size x {intermediate[1].split(' ', 1)[1]} x idle experts "
        f"x {moe_layers} MoE layers"
    )


def _billions(elements: float) -> float:
    return float(f"{elements / 1e9:.4g}") or 1e-9


# --------------------------------------------------------------------------------------- weights


@dataclass
class _Weights:
    bytes_on_disk: int = 0
    f32_bytes: int = 0
    elements: int = 0
    expert_elements: int = 0
    float_dtypes: set[str] = field(default_factory=set)
    files: int = 0
    index: Path | None = None
    index_total: int | None = None


def _read_weights(directory: Path, reading: _Reading) -> _Weights:
    """The tensors vLLM loads from `directory`, from their headers: bytes, elements, experts."""
    on_disk = sorted(p for p in directory.glob("*.safetensors") if p.is_file())
    index_path = directory / INDEX_FILE
    if not index_path.is_file():  # a ModelSlim build names its index after its weights file
        others = sorted(directory.glob("*.safetensors.index.json"))
        index_path = others[0] if len(others) == 1 else index_path
    weights = _Weights()
    shards: list[Path] = []
    if index_path.is_file():
        index = reading.json(index_path, required=True)
        weight_map = index.get("weight_map")
        shard_names = list(weight_map.values()) if isinstance(weight_map, dict) else []
        if not shard_names or not all(isinstance(v, str) for v in shard_names):
            raise InputError(f"{index_path}: weight_map is missing (a mapping of tensor names to shard files)")
        names = sorted(set(shard_names))
        for shard in names:
            if PurePosixPath(shard).name != shard or shard in (".", ".."):
                raise InputError(f"{index_path}: weight_map names {shard!r}, not a file in the model directory")
        missing = [n for n in names if not (directory / n).is_file()]
        if missing:
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            raise InputError(
                f"{index_path}: {len(missing)} of {len(names)} shards are missing: {', '.join(missing[:3])}{more} "
                "(an unfinished download? fetch them again)"
            )
        shards = [directory / n for n in names]
        total = index.get("metadata", {}).get("total_size") if isinstance(index.get("metadata"), dict) else None
        if total is not None:
            if isinstance(total, bool) or not isinstance(total, int) or total <= 0:
                raise InputError(f"{index_path}: metadata.total_size must be a positive number of bytes, not {total!r}")
            weights.index, weights.index_total = index_path, total
    load = shards if index_path.name == INDEX_FILE and shards else on_disk
    if not load:
        raise InputError(
            f"{directory}: no *.safetensors weights (ascendgen reads the weights' sizes from safetensors headers; "
            "a .bin or .gguf checkpoint is not planned)"
        )
    indexed = {p.name for p in shards}
    indexed_bytes = 0
    for path in load:
        tensors = _read_header(path)
        reading.note(path)
        weights.files += 1
        for tensor_name, (dtype, elements, nbytes) in tensors.items():
            weights.bytes_on_disk += nbytes
            weights.elements += elements
            if dtype == "F32":
                weights.f32_bytes += nbytes
            if dtype in ("BF16", "F16", "F32"):
                weights.float_dtypes.add(dtype)
            if _EXPERT_TENSOR.search(tensor_name):
                weights.expert_elements += elements
        if path.name in indexed:
            indexed_bytes += sum(t[2] for t in tensors.values())
    total = weights.index_total
    if total is not None and indexed_bytes and abs(total - indexed_bytes) > INDEX_TOLERANCE * indexed_bytes:
        raise InputError(
            f"{weights.index}: metadata.total_size {total:,} bytes disagrees with the {indexed_bytes:,} bytes its "
            "shards' headers hold: the index and the shards are from different builds"
        )
    return weights


def _read_header(path: Path) -> dict[str, tuple[str, int, int]]:
    """Tensor name -> (dtype, elements, bytes) from a safetensors file's header, checked against the file's size."""
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            head = handle.read(8)
            if len(head) < 8:
                raise InputError(f"{path}: {size} bytes is too short for a safetensors file (truncated download?)")
            length = int.from_bytes(head, "little")
            if length > MAX_HEADER_BYTES:
                raise InputError(f"{path}: header length {length:,} bytes is over {MAX_HEADER_BYTES // 1024**2} MiB: "
                                 "the file is corrupt or not safetensors")  # fmt: skip
            raw = handle.read(length)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) < length:
        raise InputError(f"{path}: the file ends inside its {length:,}-byte header (truncated download?)")
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InputError(f"{path}: the safetensors header is not JSON: corrupt, or not safetensors") from None
    if not isinstance(header, dict):
        raise InputError(f"{path}: the safetensors header is not a JSON object")
    tensors: dict[str, tuple[str, int, int]] = {}
    end_of_data = 0
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        dtype, shape, offsets = (
            (entry.get(k) for k in ("dtype", "shape", "data_offsets"))
            if isinstance(entry, dict)
            else (None, None, None)
        )
        valid = (
            isinstance(dtype, str)
            and isinstance(shape, list)
            and all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
            and isinstance(offsets, list)
            and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
            and 0 <= offsets[0] <= offsets[1]
        )
        if not valid:
            raise InputError(f"{path}: tensor {name!r}: needs dtype, shape and data_offsets [start, end]")
        assert isinstance(dtype, str) and isinstance(shape, list) and isinstance(offsets, list)
        elements, nbytes = math.prod(shape), offsets[1] - offsets[0]
        per_element = _DTYPE_BYTES.get(dtype)
        if per_element is not None and elements * per_element != nbytes:
            raise InputError(f"{path}: tensor {name!r}: shape {shape} of {dtype} is {elements * per_element:,} bytes "
                             f"but data_offsets span {nbytes:,}")  # fmt: skip
        tensors[name] = (dtype, elements, nbytes)
        end_of_data = max(end_of_data, offsets[1])
    if 8 + length + end_of_data > size:
        raise InputError(
            f"{path}: truncated: its header promises {8 + length + end_of_data:,} bytes, the file has {size:,} "
            "(an unfinished download? fetch it again)"
        )
    return tensors


def _weights(config: ConfigJson, weights: _Weights, values: dict[str, Any], provenance: dict[str, str]) -> None:
    in_memory = weights.bytes_on_disk
    where = f"safetensors headers of {weights.files} file(s)"
    if weights.index_total is not None and weights.index is not None:
        where += f" (= {weights.index.name} metadata.total_size)"
    named = _named_dtype(config)
    if named is not None and named[1] == "float32":
        in_memory -= weights.f32_bytes // 2  # float32 tensors loaded as bfloat16
        where += ", float32 tensors counted at 2 bytes (loaded as bfloat16)"
    values["weight_bytes"] = in_memory
    provenance["weight_bytes"] = where


# ---------------------------------------------------------------------------------- quantization


@dataclass(frozen=True)
class _Quant:
    label: Quantization | None = None
    serve_flags: tuple[str, ...] = ()
    min_image: str | None = None
    kv_int8_layers: int = 0  # attention layers with a C8 (int8) KV cache
    where: str = ""


def _quantization(directory: Path, config: ConfigJson, reading: _Reading, formats: KnownFormats) -> _Quant:
    """The quantized format of the build, refused when vllm-ascend does not serve it (before anything is pulled)."""
    modelopt = directory / MODELOPT_FILE
    if modelopt.is_file():
        raise InputError(f"{modelopt}: {formats.quantizations['modelopt'].reason}")
    qconfig = config.top.get("quantization_config")
    method = qconfig.get("quant_method") if isinstance(qconfig, dict) else None
    description = directory / MODELSLIM_FILE
    if description.is_file() and method in (None, "", "ascend"):
        return _modelslim(description, reading, formats)
    if qconfig is None:
        return _Quant()
    if not isinstance(qconfig, dict):
        raise InputError(f"{config.path}: quantization_config must be a JSON object")
    if method in (None, "", "ascend"):
        # vllm-ascend takes a quantization_config without quant_method for a ModelSlim build
        # (AscendModelSlimConfig.override_quantization_method), which needs its description file
        raise InputError(f"{config.path}: quantization_config has no quant_method (a ModelSlim build) but "
                         f"{MODELSLIM_FILE} is missing: vllm-ascend cannot load it")  # fmt: skip
    if not isinstance(method, str):
        raise InputError(f"{config.path}: quantization_config.quant_method must be a name, not {method!r}")
    if method == "compressed-tensors":
        return _compressed_tensors(config, qconfig, formats)
    known = formats.quantizations.get(method)
    reason = (
        known.reason
        if known is not None
        else (
            "not a method vllm-ascend serves (vllm_ascend/platform.py supported_quantization: ascend, "
            "compressed-tensors); use a BF16 or ModelSlim W8A8 / W4A8 build"
        )
    )
    raise InputError(f"{config.path}: quantization_config.quant_method '{method}': {reason}")


def _modelslim(path: Path, reading: _Reading, formats: KnownFormats) -> _Quant:
    description = reading.json(path, required=True)
    # vllm-ascend picks each layer's scheme from its entry ("...q_proj.weight": "W8A8_DYNAMIC", "FLOAT" for a layer
    # left unquantized; modelslim_config.py get_linear_quant_type); model_quant_type names the build as a whole
    layer_types = Counter(
        value for key, value in description.items() if key.endswith(".weight") and isinstance(value, str)
    )
    layer_types.pop("FLOAT", None)
    overall = description.get("model_quant_type")
    if overall is not None and not isinstance(overall, str):
        raise InputError(f'{path}: model_quant_type must be a name such as "W8A8", not {overall!r}')
    if not layer_types and overall in (None, "FLOAT"):
        raise InputError(f"{path}: no layer is quantized (every .weight entry is FLOAT)")
    names = sorted(set(layer_types) | ({overall} if overall and overall != "FLOAT" else set()))
    specs = []
    for name in names:
        spec = formats.quantizations.get(f"ascend/{name}")
        if spec is None:
            raise InputError(f"{path}: quantization type '{name}' is not one ascendgen knows (architectures.yaml "
                             "quantizations lists the ModelSlim types vllm-ascend serves)")  # fmt: skip
        if spec.reason is not None:
            raise InputError(f"{path}: quantization type '{name}': {spec.reason}")
        specs.append(spec)
    main = overall if overall and overall != "FLOAT" else max(names, key=lambda n: (layer_types[n], n))
    label = formats.quantizations[f"ascend/{main}"].label
    min_image = _newest_tag(s.min_image for s in specs)
    c8_layers = 0
    if description.get("kv_cache_type") == "C8":
        # C8: an int8 KV cache on the attention layers that carry k_proj.kv_cache_scale
        # (modelslim_config.py _add_kvcache_quant_metadata)
        c8_layers = len({m.group(1) for key in description if "k_proj.kv_cache_scale" in key
                         for m in [_LAYER_ID.search(key)] if m})  # fmt: skip
        min_image = _newest_tag([min_image, C8_MIN_IMAGE])
    where = f"{MODELSLIM_FILE} " + (f"model_quant_type {overall}" if overall else f"layer types {', '.join(names)}")
    # served with --quantization ascend (docs/source/user_guide/feature_guide/quantization.md)
    return _Quant(label, ("--quantization=ascend",), min_image, c8_layers, where)


def _compressed_tensors(config: ConfigJson, qconfig: dict[str, Any], formats: KnownFormats) -> _Quant:
    """An LLM-Compressor build: its scheme as vllm-ascend's compressed_tensors_config.py _detect_quant_type reads
    it. vLLM takes the method from config.json: no serve flag."""
    groups = qconfig.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        raise InputError(f"{config.path}: quantization_config.config_groups is missing (compressed-tensors schemes)")
    types = []
    for group_name, group in groups.items():
        weights = group.get("weights") if isinstance(group, dict) else None
        inputs = group.get("input_activations") if isinstance(group, dict) else None
        if not isinstance(weights, dict):
            raise InputError(f"{config.path}: quantization_config.config_groups.{group_name}.weights is missing")
        w_bits, w_type = weights.get("num_bits"), weights.get("type")
        a_bits = inputs.get("num_bits") if isinstance(inputs, dict) else None
        a_type = inputs.get("type") if isinstance(inputs, dict) else None
        if "float" in (w_type, a_type):
            kind = "W8A8FP8_DYNAMIC"
        elif w_bits == 8 and a_bits == 8:
            kind = "W8A8_DYNAMIC" if inputs and inputs.get("dynamic") else "W8A8"
        elif w_bits == 4 and a_bits == 8:
            kind = "W4A8_DYNAMIC"
        elif w_bits == 4 and inputs is None:
            kind = "W4A16"
        else:
            raise InputError(
                f"{config.path}: quantization_config.config_groups.{group_name}: weights of {w_bits} bits with "
                f"activations of {a_bits} bits is not a compressed-tensors scheme vllm-ascend serves "
                "(W8A8, W4A8, W4A16)"
            )
        spec = formats.quantizations[f"compressed-tensors/{kind}"]
        if spec.reason is not None:
            raise InputError(f"{config.path}: quantization_config ({kind}, compressed-tensors): {spec.reason}")
        types.append(spec)
    label = types[0].label
    where = f"{CONFIG_FILE} quantization_config (compressed-tensors)"
    return _Quant(label, (), _newest_tag(t.min_image for t in types), 0, where)


def _apply_quantization(quant: _Quant, values: dict[str, Any], provenance: dict[str, str], notes: list[str]) -> None:
    if quant.label is None:
        return
    values["quantization"], provenance["quantization"] = quant.label, quant.where
    if quant.serve_flags:
        values["serve_flags"] = quant.serve_flags
        provenance["serve_flags"] = f"{MODELSLIM_FILE}: a ModelSlim build is served with --quantization ascend"
    if quant.kv_int8_layers:
        kv_layers = values.get("kv_cache_layers") or values["num_layers"]
        if values["attention"] == "gqa" and quant.kv_int8_layers >= kv_layers:
            values["kv_cache_dtype"] = "int8"
            provenance["kv_cache_dtype"] = (
                f"{MODELSLIM_FILE} kv_cache_type C8 on {quant.kv_int8_layers} attention layers (int8 KV cache)"
            )
        else:
            notes.append(
                f"the build quantizes the KV cache (C8) of {quant.kv_int8_layers} of {kv_layers} layers; planned "
                "with the KV cache in the model dtype (conservative)"
            )


# ---------------------------------------------------------------------------------------- images


def _image_needs(
    config: ConfigJson,
    known: ArchitectureSpec | None,
    quant: _Quant,
    values: dict[str, Any],
    provenance: dict[str, str],
    notes: list[str],
) -> None:
    """The oldest image that runs the model: the architecture's and the format's first images, and the first image
    known to ship the transformers it needs. The architecture table's transformers version is the requirement;
    for an architecture it does not know, config.json's transformers_version (the release that wrote the file) is
    taken as a lower bound: an older image is unlikely to know a class newer than that table."""
    tags: list[tuple[str, str]] = []
    if known is not None and known.min_image:
        tags.append((known.min_image, f"architectures.yaml {known.name}"))
    if quant.min_image:
        tags.append((quant.min_image, f"architectures.yaml quantizations ({quant.where})"))
    wanted, why = (known.min_transformers, f"architectures.yaml {known.name}") if known else (None, "")
    if known is None:
        written = config.get("transformers_version")
        if isinstance(written, str) and _version_key(written):
            wanted, why = written, config.where("transformers_version")
    if wanted:
        values["min_transformers"] = wanted
        provenance["min_transformers"] = why
        images = load_images()
        image = _first_image_with_transformers(images, wanted)
        if image is None:
            notes.append(f"no image in images.yaml is known to ship transformers >= {wanted} ({why})")
        elif image != images[0]:  # the oldest image is no constraint
            tags.append((image.tag, f"images.yaml: the first image known to ship transformers >= {wanted}"))
    if tags:
        tag, reason = max(tags, key=lambda t: tag_key(t[0]))
        values["min_image"], provenance["min_image"] = tag, reason


def _first_image_with_transformers(images: tuple[ImageSpec, ...], wanted: str) -> ImageSpec | None:
    need = _version_key(wanted)
    for image in images:  # oldest first
        if image.transformers and _version_key(image.transformers) >= need:
            return image
    return None


def _version_key(text: str) -> tuple[int, ...]:
    """'4.57.0.dev0' -> (4, 57, 0): the release numbers, pre-release suffixes dropped."""
    parts = []
    for piece in text.split("."):
        digits = re.match(r"\d+", piece)
        if not digits:
            break
        parts.append(int(digits.group(0)))
        if digits.group(0) != piece:
            break
    return tuple(parts)


def _newest_tag(tags: Iterable[str | None]) -> str | None:
    present = [t for t in tags if t]
    return max(present, key=tag_key) if present else None


# ------------------------------------------------------------------------------------- resolution


def served_path_in(path: Path, models_dir: str) -> str:
    """`path`'s place below `models_dir`, which the container mounts at /models (the served path is
    /models/<this>); refused when the model is not inside it."""
    absolute, base = Path(os.path.abspath(path)), Path(os.path.abspath(models_dir))
    real, real_base = path.resolve(), Path(models_dir).resolve()
    hint = f"move it under {models_dir}, or pass --models-dir {absolute.parent}"
    if absolute.is_relative_to(base) and absolute != base:
        relative = absolute.relative_to(base)
    elif real.is_relative_to(real_base) and real != real_base:
        relative = real.relative_to(real_base)
    else:
        raise InputError(f"{path} is not inside --models-dir {models_dir}, the directory the container sees as "
                         f"/models: {hint}")  # fmt: skip
    if not real.is_relative_to(real_base):
        raise InputError(f"{path} leads to {real}, outside --models-dir {models_dir}: the container would not see "
                         f"its files; {hint}")  # fmt: skip
    parts = relative.parts
    bad = next((p for p in parts if not _NAME.match(p)), None)
    if bad is not None:
        raise InputError(f"{path}: the folder name {bad!r} cannot be part of a served path (letters, digits, '.', "
                         "'_', '-', starting with a letter or digit): rename it")  # fmt: skip
    return "/".join(parts)


def resolve_model(model: str, catalog: Catalog, models_dir: str) -> ResolvedModel:
    """The model an instance names: a directory (planned from its files), or a catalog name or hub id (planned
    from the catalog, or from the files in models_dir/<hub_id> when those say otherwise)."""
    if is_model_dir(model):
        path = Path(model)
        try:
            relative = served_path_in(path, models_dir)
        except InputError as exc:
            if not any(model.lower() in (m.name.lower(), m.hub_id.lower()) for m in catalog.models):
                raise
            raise InputError(f"{exc} (to plan the catalog's {model} instead, run ascendgen from a directory "
                             f"without a folder named {model})") from None  # fmt: skip
        base = next((m for m in catalog.models if m.hub_id.lower() == relative.lower()), None)
        # served as org/name when it sits like a hub download, else under its folder's name
        served = None if relative.count("/") <= 1 else relative.rsplit("/", 1)[-1]
        found = read_model_dir(path, hub_id=relative, served_name=served)
        spec = _merge(base, found) if base is not None else found.spec
        return ResolvedModel(spec, "files", found.files_read, found.notes)
    spec = catalog.get(model)
    directory = Path(models_dir) / spec.hub_id
    if not is_model_dir(str(directory)):
        return ResolvedModel(spec)
    try:
        found = read_model_dir(directory, hub_id=spec.hub_id, served_name=spec.served_name)
    except InputError as exc:  # still downloading, or weights in a format ascendgen does not read: the catalog holds
        note = f"planned from the catalog: the files in {directory} could not be read ({exc})"
        return ResolvedModel(spec, "catalog", (), (note,))
    differences = catalog_differences(spec, found.spec)
    if not differences:
        return ResolvedModel(spec, "catalog", found.files_read)
    note = f"planned from the files in {directory}, which differ from the catalog's {spec.name}: " + "; ".join(
        differences
    )
    return ResolvedModel(_merge(spec, found), "files", found.files_read, (note, *found.notes))


# What a model's files can contradict in a catalog entry (weights are compared apart, within WEIGHTS_TOLERANCE).
_COMPARED = ("architecture", "kind", "attention", "num_layers", "hidden_size", "num_attention_heads",
             "num_key_value_heads", "head_dim", "vocab_size", "dtype", "quantization", "max_position_embeddings",
             "mla", "num_experts", "vision", "kv_cache_layers", "kv_cache_dtype")  # fmt: skip


def catalog_differences(catalog: ModelSpec, files: ModelSpec) -> list[str]:
    """The numbers a model's files give differently from its catalog entry, as 'field files (catalog X)'."""
    differences = []
    for name in _COMPARED:
        mine, theirs = getattr(files, name), getattr(catalog, name)
        if mine != theirs:
            differences.append(f"{name} {_shown(mine)} (catalog {_shown(theirs)})")
    on_disk, estimated = weights_gib(files), weights_gib(catalog)
    if abs(on_disk - estimated) > WEIGHTS_TOLERANCE * estimated:
        differences.append(f"weights {on_disk:.1f} GiB (catalog {estimated:.1f} GiB)")
    return differences


def _shown(value: Any) -> str:
    if isinstance(value, Record):
        return one_line(", ".join(f"{k} {v}" for k, v in dump(value).items()))
    return "none" if value is None else one_line(str(value))


def _merge(base: ModelSpec, found: ModelFromFiles) -> ModelSpec:
    """The catalog entry with every number the files give: its name, served name, serve flags and NPU counts
    stay."""
    spec = found.spec
    taken = {name: getattr(spec, name) for name in (*_COMPARED, "params_b", "active_params_b", "weight_bytes")}
    flags = (*base.serve_flags, *(f for f in spec.serve_flags if f not in base.serve_flags))
    data = {
        **dump(base),
        **taken,
        "serve_flags": flags,
        "min_image": _newest_tag([base.min_image, spec.min_image]),
        "min_transformers": spec.min_transformers or base.min_transformers,
        "source": spec.source,
    }
    if spec.kind == "dense":
        data["active_params_b"] = data["num_experts"] = None
    try:
        return validate(ModelSpec, data)
    except RecordError as exc:
        message = exc.errors()[0]["msg"]
        raise InputError(f"{found.directory}: merged with the catalog's {base.name}: {message}") from None
