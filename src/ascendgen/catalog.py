"""The model catalog: what ascendgen knows of each model, validated from models.yaml.

A user's catalog (`--catalog FILE`) merges over the built-in one field by field: an entry with a known
name changes only the fields it gives, a new name adds a model."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

from ascendgen.datafiles import data_file
from ascendgen.errors import InputError
from ascendgen.prevalidated import builtin
from ascendgen.records import PositiveFloat, PositiveInt, Record, Rule
from ascendgen.yamlfile import Items, did_you_mean, load_merged_sections

# Quantized builds vllm-ascend serves, named after their weight / activation bits (ModelSlim's W8A8, W4A8_DYNAMIC,
# ... and compressed-tensors int schemes; see architectures.yaml `quantizations`).
Quantization = Literal["w8a8", "w4a8", "w4a4", "w8a16", "w4a16"]
# What vLLM serves a model for: text generation, or a pooling model (embeddings; rerank scores from a cross-encoder).
Task = Literal["generate", "embed", "rerank"]


@dataclass(frozen=True, kw_only=True)
class MlaDims(Record):
    """Multi-head latent attention (DeepSeek V2/V3): the KV cache holds one latent per token and layer."""

    kv_lora_rank: PositiveInt
    qk_rope_head_dim: PositiveInt
    qk_nope_head_dim: PositiveInt
    v_head_dim: PositiveInt


@dataclass(frozen=True, kw_only=True)
class ModelSpec(Record):
    name: Annotated[str, Rule(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]
    # org/name on the hub, which is also the model's directory below the models directory (served from
    # /models/<hub_id>); a model planned from a directory of another shape (one folder, or several levels) keeps
    # that path here
    hub_id: Annotated[str, Rule(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)*$")]
    served_name: Annotated[str, Rule(min_length=1)] | None = None
    architecture: Annotated[str, Rule(min_length=1)]
    kind: Literal["dense", "moe"]
    attention: Literal["gqa", "mla"]
    num_layers: PositiveInt
    hidden_size: PositiveInt
    num_attention_heads: PositiveInt
    num_key_value_heads: PositiveInt
    head_dim: PositiveInt
    vocab_size: PositiveInt
    params_b: PositiveFloat
    active_params_b: PositiveFloat | None = None
    dtype: Literal["bfloat16", "float16"]
    quantization: Quantization | None = None
    # Bytes of all weights as loaded (read from the safetensors headers); when set, the planner uses it instead of
    # params_b x bytes per parameter.
    weight_bytes: PositiveInt | None = None
    # Layers that keep a KV cache growing with the context (None: every layer). Hybrid models (Qwen3-Next, Qwen3.5)
    # have linear-attention layers with a fixed-size state instead.
    kv_cache_layers: PositiveInt | None = None
    # None: the KV cache is in the model dtype; int8: a C8 build (ModelSlim kv_cache_type C8) stores K and V as int8.
    kv_cache_dtype: Literal["int8"] | None = None
    max_position_embeddings: PositiveInt
    mla: MlaDims | None = None
    num_experts: PositiveInt | None = None
    # A MoE model's experts per token (config.json num_experts_per_tok): with num_experts it splits the parameters
    # into routed experts and the rest (planner.routed_expert_params), which a W4A8 build quantizes differently.
    experts_per_token: PositiveInt | None = None
    vision: bool = False
    # The planner turns a pooling task into the serve flag the image's vLLM takes.
    task: Task = "generate"
    serve_flags: Items[str] = ()
    min_image: str | None = None
    min_transformers: str | None = None
    npus: dict[str, PositiveInt] = field(default_factory=dict)
    source: Annotated[str, Rule(min_length=1)]

    def _check(self) -> None:
        if self.attention == "mla" and self.mla is None:
            raise ValueError("attention 'mla' needs the 'mla' dimensions (kv_lora_rank, ...)")
        if self.attention == "gqa" and self.mla is not None:
            raise ValueError("'mla' dimensions are only for attention 'mla'")
        if self.kind == "moe" and self.active_params_b is None:
            raise ValueError("a MoE model needs 'active_params_b' (parameters active per token)")
        if self.kind == "dense" and (
            self.active_params_b is not None or self.num_experts is not None or self.experts_per_token is not None
        ):
            raise ValueError("'active_params_b', 'num_experts' and 'experts_per_token' are only for kind 'moe'")
        experts, per_token = self.num_experts, self.experts_per_token
        if per_token is not None and (experts is None or per_token >= experts):
            raise ValueError("'experts_per_token' needs 'num_experts' and must be fewer than it")
        if self.active_params_b is not None and self.active_params_b > self.params_b:
            raise ValueError("'active_params_b' cannot exceed 'params_b'")
        if self.kv_cache_layers is not None and self.kv_cache_layers > self.num_layers:
            raise ValueError("kv_cache_layers cannot exceed num_layers")
        if self.num_key_value_heads > self.num_attention_heads:
            raise ValueError("num_key_value_heads cannot exceed num_attention_heads")
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError("num_attention_heads must be a multiple of num_key_value_heads")
        for flag in self.serve_flags:
            if not flag.startswith("--") or any(c.isspace() for c in flag.split("=", 1)[0]):
                raise ValueError(f"serve flag {flag!r} must be a --flag (with an optional =value)")

    @property
    def served_model_name(self) -> str:
        return self.served_name or self.hub_id


@dataclass(frozen=True)
class Catalog:
    models: tuple[ModelSpec, ...]
    sources: tuple[Path, ...]

    def get(self, name: str) -> ModelSpec:
        by_key = {m.name.lower(): m for m in self.models}
        by_key.update({m.hub_id.lower(): m for m in self.models if m.hub_id.lower() not in by_key})
        found = by_key.get(name.lower())
        if found is None:
            names = [m.name for m in self.models]
            hint = did_you_mean(name, names) or " (run 'ascendgen models' to list them)"
            raise InputError(f"unknown model '{name}'{hint}")
        return found


def builtin_catalog_path() -> Path:
    return data_file("models.yaml")


def load_catalog(extra: Iterable[Path] = ()) -> Catalog:
    """The built-in catalog, with each user catalog merged over it in order."""
    paths = (builtin_catalog_path(), *extra)
    prevalidated = builtin("models.yaml", "models") if len(paths) == 1 else None
    if prevalidated is not None:
        return Catalog(models=prevalidated, sources=paths)
    loaded = load_merged_sections(paths, {"models": ModelSpec}, singular={"models": "model"})
    return Catalog(models=tuple(loaded["models"]), sources=paths)
