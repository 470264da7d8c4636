"""Preflight's check that the model folder holds the planned model, against every real config.json stored in
tests/fixtures/configs/: the folder of each catalog model, holding its own published config.json, must pass. (bge-m3
has no num_key_value_heads and glm-4-9b names its layers num_layers: both were refused as "another model".)"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from ascendgen.catalog import ModelSpec, load_catalog
from ascendgen.composeconfig import Mount, ServiceConfig
from ascendgen.preflight import _model_problems
from ascendgen.render import LABEL_PREFIX, model_config_label

CONFIGS = Path(__file__).parent / "fixtures" / "configs"
WITH_CONFIG = [m for m in load_catalog(()).models if (CONFIGS / f"{m.hub_id.replace('/', '__')}.json").exists()]


def service_for(model: ModelSpec, models_dir: Path) -> ServiceConfig:
    label = model_config_label(SimpleNamespace(model=model))  # type: ignore[arg-type]  # it reads plan.model only
    return ServiceConfig(
        name="vllm",
        container_name=None,
        image="image",
        devices=(),
        volumes=(Mount(str(models_dir), "/models", True),),
        command=("serve", f"/models/{model.hub_id}"),
        environment={},
        labels={f"{LABEL_PREFIX}.model": model.name, f"{LABEL_PREFIX}.model-config": label},
    )


def folder(models_dir: Path, model: ModelSpec, config: dict[str, Any]) -> None:
    path = models_dir / model.hub_id
    path.mkdir(parents=True)
    (path / "config.json").write_text(json.dumps(config), encoding="utf-8")


def test_enough_real_configs_are_checked() -> None:
    assert len(WITH_CONFIG) >= 50


@pytest.mark.parametrize("model", WITH_CONFIG, ids=lambda m: m.name)
def test_a_folder_with_the_models_own_config_passes(tmp_path: Path, model: ModelSpec) -> None:
    config = json.loads((CONFIGS / f"{model.hub_id.replace('/', '__')}.json").read_text(encoding="utf-8"))
    folder(tmp_path / "models", model, config)
    assert list(_model_problems(service_for(model, tmp_path / "models"))) == []


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"num_attention_heads": 31}, "num_attention_heads"),
        ({"num_key_value_heads": 1}, "num_key_value_heads"),
        ({"num_hidden_layers": 7}, "num_hidden_layers"),
    ],
)
def test_a_folder_holding_another_model_is_named(tmp_path: Path, change: dict[str, int], key: str) -> None:
    (model,) = [m for m in WITH_CONFIG if m.name == "Qwen3-8B"]
    config = json.loads((CONFIGS / "Qwen__Qwen3-8B.json").read_text(encoding="utf-8")) | change
    folder(tmp_path, model, config)
    (problem,) = _model_problems(service_for(model, tmp_path))
    assert f"says {key} {change[key]}, but the plan for Qwen3-8B expects" in problem


@pytest.mark.parametrize(
    ("config", "problems"),
    [
        # no KV-head count: one per attention head (vLLM get_total_num_kv_heads)
        ({"num_attention_heads": 16, "num_hidden_layers": 24}, 0),
        # ChatGLM's names
        ({"num_attention_heads": 16, "multi_query_group_num": 16, "num_layers": 24}, 0),
        ({"num_attention_heads": 16, "multi_query_group_num": 2, "num_layers": 24}, 1),
        ({"num_attention_heads": 16, "num_key_value_heads": 16}, 1),  # no layer count at all
    ],
)
def test_other_names_for_the_same_numbers(tmp_path: Path, config: dict[str, int], problems: int) -> None:
    (model,) = [m for m in WITH_CONFIG if m.name == "bge-m3"]  # 16 heads, 16 KV heads, 24 layers
    folder(tmp_path, model, config)
    assert len(list(_model_problems(service_for(model, tmp_path)))) == problems


def test_a_config_that_is_not_an_object_is_named(tmp_path: Path) -> None:
    (model,) = [m for m in WITH_CONFIG if m.name == "bge-m3"]
    path = tmp_path / model.hub_id
    path.mkdir(parents=True)
    (path / "config.json").write_text("[1, 2]", encoding="utf-8")
    (problem,) = _model_problems(service_for(model, tmp_path))
    assert problem.endswith(f"config.json is not a JSON object: {path} does not hold a Hugging Face model")
