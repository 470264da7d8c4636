"""Every catalog entry read back against a stored copy of its model's config.json.

tests/fixtures/configs/<org>__<model>.json holds the config text, copied byte for byte from the URL that
SOURCES.yaml names. For each entry the numbers the planner uses (layers, heads, KV heads, head_dim, vocab,
context, experts, MLA dims, architecture, dtype, vision) must equal what the config says. An entry without a
stored config is listed in NO_CONFIG with the reason, so a new entry without one fails until someone decides."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascendgen.catalog import ModelSpec, load_catalog
from ascendgen.records import dump

FIXTURES = Path(__file__).parent / "fixtures" / "configs"
CATALOG = load_catalog(())

# Entries checked against another model's config. The Ascend W8A8/W4A8 builds (msModelSlim, on ModelScope)
# carry their base model's numbers: models.yaml's header says why and that it is inferred, not read.
CHECKED_AGAINST = {
    # GLM-4.7's own config.json was read on its hub page but no verbatim copy was reachable; the stored copy is
    # the FP8 sibling's (same Glm4MoeForCausalLM dimensions).
    "zai-org/GLM-4.7": "zai-org/GLM-4.7-FP8",
    # GLM-4.6's and MiniMax-M2's own config.json: no verbatim copy reachable; their siblings' stored copies have the
    # same dimensions (models.yaml names what the numbers rest on)
    "zai-org/GLM-4.6": "zai-org/GLM-4.7-FP8",
    "MiniMaxAI/MiniMax-M2": "MiniMaxAI/MiniMax-M2.5",
    "Modelers_Park/GLM-4.5-w8a8": "zai-org/GLM-4.5",
    "Modelers_Park/GLM-4.6-w8a8": "zai-org/GLM-4.7-FP8",
    "vllm-ascend/DeepSeek-V3-W8A8": "deepseek-ai/DeepSeek-V3",
    "vllm-ascend/DeepSeek-R1-W8A8": "deepseek-ai/DeepSeek-R1",
    "vllm-ascend/Qwen3-32B-W8A8": "Qwen/Qwen3-32B",
    "Eco-Tech/Qwen3-30B-A3B-w8a8": "Qwen/Qwen3-30B-A3B",
    "vllm-ascend/Qwen3-235B-A22B-W8A8": "Qwen/Qwen3-235B-A22B",
    "Eco-Tech/Qwen3.5-27B-w8a8-mtp": "Qwen/Qwen3.5-27B",
    "Eco-Tech/Qwen3.5-122B-A10B-w8a8-mtp": "Qwen/Qwen3.5-122B-A10B",
    "Eco-Tech/Qwen3.5-397B-A17B-w8a8-mtp": "Qwen/Qwen3.5-397B-A17B",
    "Eco-Tech/Qwen3.5-397B-A17B-w4a8-mtp": "Qwen/Qwen3.5-397B-A17B",
    "Eco-Tech/Qwen3.6-35B-A3B-w8a8": "Qwen/Qwen3.6-35B-A3B",
    "Eco-Tech/Qwen3.8-2.4T-A95B-w8a8": "Qwen/Qwen3.8-2.4T-A95B",
    "Eco-Tech/Qwen3.8-2.4T-A95B-w4a8": "Qwen/Qwen3.8-2.4T-A95B",
    "vllm-ascend/DeepSeek-V3.1-W8A8": "deepseek-ai/DeepSeek-V3.1",
    "Eco-Tech/DeepSeek-V3.1-w8a8-mtp-QuaRot": "deepseek-ai/DeepSeek-V3.1",
    "vllm-ascend/DeepSeek-V3.2-W8A8": "deepseek-ai/DeepSeek-V3.2",
    "Eco-Tech/DeepSeek-V4-Flash-w8a8-mtp": "deepseek-ai/DeepSeek-V4-Flash",
    "Eco-Tech/DeepSeek-V4-Pro-w4a8-mtp": "deepseek-ai/DeepSeek-V4-Pro",
    "vllm-ascend/Kimi-K2-Instruct-W8A8": "moonshotai/Kimi-K2-Instruct",
    "Eco-Tech/Kimi-K2.5-W4A8": "moonshotai/Kimi-K2.5",
    "Eco-Tech/GLM-4.7-W8A8-floatmtp": "zai-org/GLM-4.7-FP8",
    "Eco-Tech/GLM-5-w8a8": "zai-org/GLM-5",
    "Eco-Tech/GLM-5-w4a8": "zai-org/GLM-5",
    "Eco-Tech/GLM-5.1-w8a8": "zai-org/GLM-5.1",
    "Eco-Tech/GLM-5.2-w8a8": "zai-org/GLM-5.2",
    "Eco-Tech/MiniMax-M2.5-w8a8-QuaRot": "MiniMaxAI/MiniMax-M2.5",
    "vllm-ascend/MiniMax-M2.7-w8a8-QuaRot": "MiniMaxAI/MiniMax-M2.7",
    "vllm-ascend/QwQ-32B-W8A8": "Qwen/QwQ-32B",
}

# Where a copy was looked for (2026-12-02): the code index by path and by content, and the full history of
# ai-dynamo/aiconfigurator, inference-sim/inference-sim, casys-kaist/LLMServingSim, sgl-project/ome (testdata),
# daniel-p-green/alain-ai-learning-platform, tenstorrent tt-metal model_params (by path), microsoft/vidur, gpustack,
# kaito, alibaba/rtp-llm. The numbers of an entry listed here were read from the hub page named in its source.
NOT_REACHABLE = "no verbatim copy of its config.json in any of the places searched (see above)"
NO_CONFIG = {
    # citsjtu2020/LLM-Prof sglang/Model_Config.md pastes a re-saved copy (transformers 4.51.2, use_cache false)
    "Qwen3-4B": NOT_REACHABLE,
    "Qwen2.5-14B-Instruct": NOT_REACHABLE,
    "Qwen2.5-32B-Instruct": "its one copy found (tt-metal model_params) is edited: 131072 positions, the hub 32768",
    "Qwen2.5-72B-Instruct": NOT_REACHABLE,
    "Qwen2.5-Coder-32B-Instruct": NOT_REACHABLE,
    "QwQ-32B": "the copies found predate Qwen's cut of max_position_embeddings to 40960 (QwenLM/QwQ#26)",
    "QwQ-32B-W8A8": "built from QwQ-32B, whose config.json copy was not reachable",
    "Qwen2.5-VL-32B-Instruct": NOT_REACHABLE,
    "DeepSeek-R1-Distill-Qwen-7B": NOT_REACHABLE,
    "DeepSeek-R1-Distill-Qwen-14B": NOT_REACHABLE,
    "DeepSeek-V3-Pruning": "vllm-ascend's 2-layer test build of DeepSeek-V3; its config.json is not public",
    "glm-4-9b-chat-hf": "the -hf repo's own config.json was not reachable (see models.yaml)",
    "GLM-4.5-Air": "no verbatim copy reachable; numbers from a transformers printout of its config (models.yaml)",
}

# Fields where an entry knowingly differs from its stored copy, and why.
RESAVED = "the stored copy was re-saved by transformers in another dtype; the hub's dtype was not stored"
NO_DTYPE = "the config has no torch_dtype; the catalog gives the dtype vLLM computes in"
FIELD_EXCEPTIONS = {
    ("Qwen2.5-0.5B-Instruct", "dtype"): RESAVED,
    ("Qwen2.5-1.5B-Instruct", "dtype"): RESAVED,
    ("MiniMax-M2", "dtype"): NO_DTYPE,
    ("MiniMax-M2.5", "dtype"): NO_DTYPE,
    ("MiniMax-M2.5-w8a8-QuaRot", "dtype"): NO_DTYPE,
    ("gpt-oss-120b", "dtype"): NO_DTYPE,
    ("gpt-oss-20b", "dtype"): NO_DTYPE,
}

FIELDS = (
    "architecture",
    "num_layers",
    "hidden_size",
    "num_attention_heads",
    "num_key_value_heads",
    "head_dim",
    "vocab_size",
    "max_position_embeddings",
    "dtype",
    "kind",
    "num_experts",
    "attention",
    "mla",
    "vision",
)
# vLLM serves a float32 checkpoint in float16 (vllm/config/model.py _resolve_auto_dtype: "Downcast for float32
# models"; pooling models prefer float16).
SERVED_DTYPE = {"float32": "float16", "float16": "float16", "bfloat16": "bfloat16"}


def fixture_name(hub_id: str) -> str:
    return hub_id.replace("/", "__") + ".json"


def load_config(hub_id: str) -> dict[str, Any] | None:
    path = FIXTURES / fixture_name(hub_id)
    if not path.exists():
        return None
    config: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return config


def expected_from_config(config: dict[str, Any]) -> dict[str, Any]:
    """The catalog fields as config.json gives them (a VL model's language numbers sit in text_config)."""
    text: dict[str, Any] = config.get("text_config", config)

    def get(key: str) -> Any:
        return text.get(key, config.get(key))

    heads = get("num_attention_heads")
    mla = get("kv_lora_rank") is not None
    experts = get("n_routed_experts") or get("num_experts") or get("num_local_experts")
    dtype = get("torch_dtype") or get("dtype")
    context = get("max_position_embeddings")
    if get("model_type") == "xlm-roberta":
        # RoBERTa's positions start at pad_token_id + 1, so two of the 8194 are never a token's
        # (huggingface/sentence-transformers#3879: "positions as padding_idx + 1 + n")
        context -= get("pad_token_id") + 1
    fields: dict[str, Any] = {
        "architecture": config["architectures"][0],
        "num_layers": get("num_hidden_layers"),
        "hidden_size": get("hidden_size"),
        "num_attention_heads": heads,
        # an encoder, or plain multi-head attention, has no num_key_value_heads: one K/V head per head
        "num_key_value_heads": get("num_key_value_heads") or heads,
        "vocab_size": get("vocab_size"),
        "max_position_embeddings": context,
        "dtype": SERVED_DTYPE.get(dtype) if dtype else None,
        "kind": "moe" if experts else "dense",
        "num_experts": experts,
        "attention": "mla" if mla else "gqa",
        "vision": "vision_config" in config,
    }
    if mla:
        # MLA: the catalog's head_dim is the query/key width, qk_nope_head_dim + qk_rope_head_dim
        fields["head_dim"] = get("qk_nope_head_dim") + get("qk_rope_head_dim")
        fields["mla"] = {k: get(k) for k in ("kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim")}
    else:
        fields["head_dim"] = get("head_dim") or get("hidden_size") // heads
        fields["mla"] = None
    return fields


def catalog_fields(model: ModelSpec) -> dict[str, Any]:
    data = dump(model)
    return {key: data[key] for key in FIELDS}


@pytest.mark.parametrize("model", CATALOG.models, ids=lambda m: m.name)
def test_catalog_entry_matches_its_config_json(model: ModelSpec) -> None:
    config_hub_id = CHECKED_AGAINST.get(model.hub_id, model.hub_id)
    config = load_config(config_hub_id)
    if config is None:
        assert model.name in NO_CONFIG, (
            f"{model.name}: no stored config.json ({FIXTURES.name}/{fixture_name(config_hub_id)}); add a verbatim "
            "copy and its URL to SOURCES.yaml, or list the entry in NO_CONFIG with the reason"
        )
        return
    assert model.name not in NO_CONFIG, f"{model.name} has a stored config now: drop it from NO_CONFIG"
    expected = expected_from_config(config)
    actual = catalog_fields(model)
    differ = {k: (actual[k], expected[k]) for k in FIELDS if actual[k] != expected[k]}
    excused = {k for k in differ if (model.name, k) in FIELD_EXCEPTIONS}
    stale = [k for (name, k) in FIELD_EXCEPTIONS if name == model.name and k not in differ]
    assert not stale, f"{model.name}: FIELD_EXCEPTIONS lists {stale}, which now match the config"
    assert {k: v for k, v in differ.items() if k not in excused} == {}, "catalog value, config value"


@pytest.mark.parametrize("model", [m for m in CATALOG.models if m.experts_per_token is not None], ids=lambda m: m.name)
def test_experts_per_token_matches_its_config_json(model: ModelSpec) -> None:
    """Optional in the catalog (the W4A8 builds carry it: it splits their 4-bit experts from the 8-bit rest); where
    given it is the config's num_experts_per_tok."""
    config = load_config(CHECKED_AGAINST.get(model.hub_id, model.hub_id))
    assert config is not None, f"{model.name}: experts_per_token needs a stored config.json to check it against"
    text = config.get("text_config", config)
    assert model.experts_per_token == text.get("num_experts_per_tok", config.get("num_experts_per_tok"))


def test_the_exception_lists_name_catalog_entries() -> None:
    names = {m.name for m in CATALOG.models}
    hub_ids = {m.hub_id for m in CATALOG.models}
    assert set(NO_CONFIG) <= names
    assert {name for name, _ in FIELD_EXCEPTIONS} <= names
    assert set(CHECKED_AGAINST) <= hub_ids


def test_every_stored_config_has_its_source_and_is_used() -> None:
    sources = yaml.safe_load((FIXTURES / "SOURCES.yaml").read_text(encoding="utf-8"))
    files = {p.name for p in FIXTURES.glob("*.json")}
    assert set(sources) == files
    for url in sources.values():
        assert url.startswith("https://github.com/") and "/blob/" in url, url
    used = {fixture_name(CHECKED_AGAINST.get(m.hub_id, m.hub_id)) for m in CATALOG.models}
    assert files - used == set(), "stored configs no catalog entry is checked against"


def test_catalog_covers_pooling_models_and_quantized_builds() -> None:
    assert len(CATALOG.models) >= 70
    tasks = {m.name: m.task for m in CATALOG.models if m.task != "generate"}
    assert tasks == {
        "Qwen3-Embedding-0.6B": "embed",
        "Qwen3-Reranker-0.6B": "rerank",
        "bge-m3": "embed",
        "bge-reranker-v2-m3": "rerank",
    }
    for m in CATALOG.models:
        if m.quantization is not None:
            assert "--quantization=ascend" in m.serve_flags, m.name
