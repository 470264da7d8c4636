"""Catalog loading and validation: the built-in catalog, user catalogs merged over it, and errors that
name the file, the line, the entry and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ascendgen.catalog import load_catalog
from ascendgen.errors import CatalogError, InputError

from helpers import Write, tiny_model_entry

SEED_MODELS = [
    "Qwen3-8B",
    "Qwen3-30B-A3B",
    "Qwen2.5-7B-Instruct",
    "Qwen2.5-32B-Instruct",
    "Qwen2.5-Coder-32B-Instruct",
    "Qwen2.5-VL-32B-Instruct",
    "Qwen3-VL-30B-A3B-Instruct",
    "DeepSeek-V3-Pruning",
]
EXPECTED_MODELS = [
    *SEED_MODELS,
    "Qwen3-0.6B",
    "Qwen3-1.7B",
    "Qwen3-4B",
    "Qwen3-14B",
    "Qwen3-32B",
    "Qwen3-235B-A22B",
    "Qwen2.5-0.5B-Instruct",
    "Qwen2.5-72B-Instruct",
    "QwQ-32B",
    "DeepSeek-R1-Distill-Qwen-7B",
    "DeepSeek-R1-Distill-Qwen-14B",
    "DeepSeek-R1-Distill-Qwen-32B",
    "DeepSeek-V3",
    "DeepSeek-R1",
]


def test_builtin_catalog_covers_the_seeds_and_more() -> None:
    catalog = load_catalog()
    names = {m.name for m in catalog.models}
    missing = [name for name in EXPECTED_MODELS if name not in names]
    assert not missing
    assert len(catalog.models) >= 25
    assert any(m.quantization == "w8a8" and m.attention == "mla" for m in catalog.models)
    assert any(m.name.startswith("Meta-Llama-3.1-8B") or m.name.startswith("Llama-3.1-8B") for m in catalog.models)
    assert any(m.name.lower().startswith("glm-4-9b") for m in catalog.models)
    for model in catalog.models:
        assert model.source.startswith("http"), model.name


def test_seed_numbers_match_config_json() -> None:
    """Spot checks against the models' config.json, read by hand (huggingface.co/<hub_id>/config.json)."""
    catalog = load_catalog()
    q8 = catalog.get("Qwen3-8B")
    assert (q8.num_layers, q8.num_attention_heads, q8.num_key_value_heads, q8.head_dim) == (36, 32, 8, 128)
    assert q8.max_position_embeddings == 40960
    moe = catalog.get("Qwen3-30B-A3B")
    assert (moe.kind, moe.num_layers, moe.num_attention_heads, moe.num_key_value_heads) == ("moe", 48, 32, 4)
    assert (moe.params_b, moe.active_params_b) == (30.5, 3.3)
    q7 = catalog.get("Qwen2.5-7B-Instruct")
    assert (q7.num_attention_heads, q7.num_key_value_heads, q7.num_layers) == (28, 4, 28)
    ds = catalog.get("DeepSeek-V3")
    assert ds.attention == "mla" and ds.mla is not None
    assert (ds.num_layers, ds.mla.kv_lora_rank, ds.mla.qk_rope_head_dim) == (61, 512, 64)


def test_lookup_by_name_or_hub_id_any_case() -> None:
    catalog = load_catalog()
    assert catalog.get("qwen3-8b").name == "Qwen3-8B"
    assert catalog.get("Qwen/Qwen3-8B").name == "Qwen3-8B"


def test_unknown_model_suggests_a_close_name() -> None:
    with pytest.raises(InputError, match=r"unknown model 'Qwen3-8b-instruct'.*did you mean 'Qwen3-8B'"):
        load_catalog().get("Qwen3-8b-instruct")


def test_user_catalog_merges_over_builtin(write: Write) -> None:
    user = write("mine.yaml", "models:\n  - name: Qwen3-8B\n    served_name: qwen3\n" + tiny_model_entry("My-Model"))
    catalog = load_catalog([user])
    assert catalog.get("Qwen3-8B").served_model_name == "qwen3"
    assert catalog.get("Qwen3-8B").num_layers == 36  # the rest of the built-in entry stays
    assert catalog.get("My-Model").hub_id == "me/my-model"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "models:\n  - name: Qwen3-8B\n    num_layers: many\n",
            r"mine\.yaml:3: model 'Qwen3-8B': num_layers: must be a whole number, not text",
        ),
        (
            "models:\n  - name: Qwen3-8B\n    num_layer: 3\n",
            r"mine\.yaml:3: model 'Qwen3-8B': num_layer: unknown field \(did you mean 'num_layers'\?\)",
        ),
        (
            "models:\n  - name: New\n    hub_id: a/b\n",
            r"mine\.yaml:2: model 'New': \w+: required field is missing",
        ),
        ("models:\n  - name: [unclosed\n", r"mine\.yaml:\d+: malformed YAML"),
        ("model:\n  - name: x\n", r"mine\.yaml:1: unknown top-level key 'model' \(did you mean 'models'\?\)"),
        ("models:\n  - hub_id: a/b\n", r"mine\.yaml:2: models\[0\]: each entry needs a 'name'"),
        ("models:\n  - name: A\n  - name: a\n", r"mine\.yaml:3: model 'a' is listed twice"),
        (
            "models:\n  - name: Qwen3-8B\n    num_key_value_heads: 64\n",
            r"model 'Qwen3-8B': \(entry\): num_key_value_heads cannot exceed",
        ),
    ],
)
def test_malformed_catalog_names_file_line_entry_field(write: Write, body: str, message: str) -> None:
    path = write("mine.yaml", body)
    with pytest.raises(CatalogError, match=message):
        load_catalog([path])


def test_missing_catalog_file(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match=r"nope\.yaml: cannot read"):
        load_catalog([tmp_path / "nope.yaml"])
