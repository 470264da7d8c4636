"""`ascendgen catalog add PATH --catalog FILE`, run as a user runs it: the entry is appended (the file's own text
and comments stay), validated, written atomically, and `plan NAME --catalog FILE` finds it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ascendgen.catalog import load_catalog
from ascendgen.modeldir import read_model_dir

from helpers import Run, make_model_dir

CONFIG = {
    "architectures": ["Qwen3ForCausalLM"],
    "num_hidden_layers": 4,
    "hidden_size": 1024,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "vocab_size": 1000,
    "max_position_embeddings": 40960,
    "torch_dtype": "bfloat16",
}
# 2 x 1024 x 1024 x 2 B = 4 MiB
TENSORS = {"model.embed_tokens.weight": ("BF16", [1024, 1024]), "lm_head.weight": ("BF16", [1024, 1024])}


def model_dir(models: Path, name: str = "My-Model", **changes: Any) -> Path:
    return make_model_dir(models / "me" / name, {**CONFIG, **changes}, {"model.safetensors": TENSORS})


def test_add_then_plan_by_name(run: Run, tmp_path: Path) -> None:
    models, catalog = tmp_path / "models", tmp_path / "my-models.yaml"
    directory = model_dir(models)
    added = run("catalog", "add", str(directory), "--catalog", str(catalog), "--models-dir", str(models))
    assert added.exit_code == 0, added.stderr
    assert "added My-Model" in added.stderr and "ascendgen plan My-Model --catalog" in added.stderr
    entry = load_catalog([catalog]).get("My-Model")
    assert entry == read_model_dir(directory, hub_id="me/My-Model").spec
    assert entry.source == (directory / "config.json").resolve().as_uri()
    assert entry.weight_bytes == 4 * 1024**2
    # the numbers carry where they came from
    assert "num_layers: 4  # config.json num_hidden_layers" in catalog.read_text()

    # planned by name, wherever the files are now: from the catalog entry
    planned = run("plan", "My-Model", "--catalog", str(catalog), "--dry-run", "--json", "--image", "v0.9.2rc1")
    assert planned.exit_code == 0, planned.stderr
    data = planned.json()
    assert data["source"] == "catalog" and data["files_read"] == []
    assert data["model_path"] == "/models/me/My-Model"
    # 2 x 4 layers x 8 KV heads x 128 x 2 B = 16,384 B per token; weights 4 MiB = 0.0039 GiB
    assert data["kv_bytes_per_token"] == 16_384 and data["weights_gib_per_npu"] == 0.0
    # with the same models directory, its files agree with the entry: still the catalog's plan
    again = run("plan", "My-Model", "--catalog", str(catalog), "--models-dir", str(models), "--dry-run", "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["source"] == "catalog" and again.json()["files_read"]


def test_add_keeps_the_files_text_and_comments(run: Run, tmp_path: Path) -> None:
    catalog = tmp_path / "mine.yaml"
    original = "# my models, reviewed by Ann\nmodels:\n- name: Other   # hand-written\n  hub_id: a/b\n"
    catalog.write_text(original, encoding="utf-8")
    result = run("catalog", "add", str(model_dir(tmp_path / "models")), "--catalog", str(catalog))
    assert result.exit_code == 2  # 'Other' alone is incomplete: the existing file does not load
    assert catalog.read_text() == original

    original = (
        "# my models\nmodels:   # one per line\n  # first\n  - name: Qwen3-8B\n    max_position_embeddings: 8192\n"
    )
    catalog.write_text(original, encoding="utf-8")
    result = run("catalog", "add", str(model_dir(tmp_path / "models")), "--catalog", str(catalog))
    assert result.exit_code == 0, result.stderr
    text = catalog.read_text()
    assert text.startswith(original)  # appended, nothing rewritten
    names = [m["name"] for m in yaml.safe_load(text)["models"]]
    assert names == ["Qwen3-8B", "My-Model"]
    assert load_catalog([catalog]).get("Qwen3-8B").max_position_embeddings == 8192


def test_add_to_a_list_at_column_zero_and_to_an_empty_models_key(run: Run, tmp_path: Path) -> None:
    models = tmp_path / "models"
    for original in ("models:\n- name: Qwen3-8B\n  max_position_embeddings: 8192", "models:\n# none yet\n"):
        catalog = tmp_path / "c.yaml"
        catalog.write_text(original, encoding="utf-8")
        result = run("catalog", "add", str(model_dir(models)), "--catalog", str(catalog))
        assert result.exit_code == 0, result.stderr
        assert catalog.read_text().startswith(original)
        assert load_catalog([catalog]).get("My-Model").num_layers == 4


def test_add_refuses_duplicates_and_writes_nothing(run: Run, tmp_path: Path) -> None:
    models, catalog = tmp_path / "models", tmp_path / "c.yaml"
    assert run("catalog", "add", str(model_dir(models)), "--catalog", str(catalog)).exit_code == 0
    before = catalog.read_text()
    again = run("catalog", "add", str(model_dir(models)), "--catalog", str(catalog))
    assert again.exit_code == 2
    assert "already has a model named 'My-Model'" in again.stderr and "--name" in again.stderr
    builtin = run("catalog", "add", str(model_dir(models, "Qwen3-8B")), "--catalog", str(catalog))
    assert builtin.exit_code == 2 and "built-in catalog" in builtin.stderr
    assert catalog.read_text() == before
    renamed = run("catalog", "add", str(model_dir(models)), "--catalog", str(catalog), "--name", "My-Model-2")
    assert renamed.exit_code == 0, renamed.stderr
    assert {"My-Model", "My-Model-2"} <= {m.name for m in load_catalog([catalog]).models}


@pytest.mark.parametrize(
    ("original", "message"),
    [
        ("models: []\n", "not a block list"),
        ("models:\n  - name: [\n", "malformed YAML"),
        ("hardware: []\n", "unknown top-level key 'hardware'"),
    ],
)
def test_add_refuses_a_file_it_cannot_append_to(run: Run, tmp_path: Path, original: str, message: str) -> None:
    catalog = tmp_path / "c.yaml"
    catalog.write_text(original, encoding="utf-8")
    result = run("catalog", "add", str(model_dir(tmp_path / "models")), "--catalog", str(catalog))
    assert result.exit_code == 2 and message in result.stderr, result.stderr
    assert catalog.read_text() == original
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_add_refuses_a_broken_model_before_touching_the_catalog(run: Run, tmp_path: Path) -> None:
    catalog = tmp_path / "c.yaml"
    directory = model_dir(tmp_path / "models", num_attention_heads=None)
    result = run("catalog", "add", str(directory), "--catalog", str(catalog))
    assert result.exit_code == 2
    assert "num_attention_heads is missing" in result.stderr
    assert not catalog.exists()


def test_catalog_help_has_an_example(run: Run) -> None:
    result = run("catalog", "add", "--help")
    assert result.exit_code == 0
    assert "ascendgen catalog add" in result.stdout and "--catalog" in result.stdout
