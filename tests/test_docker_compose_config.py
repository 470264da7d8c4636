"""Every file ascendgen writes passes Compose v2's own parser (`docker compose config`, no engine
needed) and reads back, after compose's interpolation, as exactly the planned values."""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ascendgen.catalog import load_catalog
from ascendgen.planner import weights_gib

from helpers import REPO, Run, compose_config


def targets(devices: list[Any]) -> list[str]:
    return [d["target"] if isinstance(d, dict) else d.split(":")[-1] for d in devices]


@pytest.mark.parametrize("example", sorted(p.parent for p in (REPO / "examples").glob("**/compose.yml")))
def test_examples_pass_compose_config(compose_v2: None, example: Path) -> None:
    # the GPUStack worker example takes its token from the environment (.env is never committed), the gateway
    # example its API key
    config = compose_config(example, {"GPUSTACK_TOKEN": "placeholder-token", "VLLM_API_KEY": "placeholder-key"})
    assert 1 <= len(config["services"]) <= 3  # two models and their gateway at most


def test_every_catalog_model_renders_valid_compose(compose_v2: None, run: Run, tmp_path: Path) -> None:
    planned, skipped, models = 0, [], load_catalog().models
    for model in models:
        out = tmp_path / model.name
        result = run("plan", model.name, "--npu-type", "910B3", "--out", str(out), "--json")
        if result.exit_code == 2 and "does not fit" in result.stderr:
            # Only a model too large for one server may be skipped (DeepSeek-V3/R1, 235B, ...): 8 x 910B3 give
            # 60.96 GiB x 0.92 = 56.08 GiB usable each; with the reserves and a useful KV cache, any model under
            # 50 GiB of weights per NPU at TP 8 must plan
            assert weights_gib(model) / 8 > 50, f"{model.name}: {result.stderr}"
            skipped.append(model.name)
            continue
        assert result.exit_code == 0, f"{model.name}: {result.stderr}"
        plan = result.json()
        (service,) = compose_config(out)["services"].values()
        assert service["command"] == ["serve", *plan["serve_args"]]
        assert targets(service["devices"])[3:] == [f"/dev/davinci{i}" for i in plan["npus"]]
        assert service["image"] == plan["image"]
        planned += 1
    # 64 of the 96 models have less than 50 GiB of weights per NPU at TP 8; each of them was checked
    assert planned >= 64 and planned + len(skipped) == len(models), skipped


HOSTILE = [
    "$HOME and ${PATH}",
    'quote " and \\ backslash',
    "colon: value # not a comment",
    "dash - [flow] {map} &anchor *alias !tag",
    "yes",
    "模型 🚀",
]


@pytest.mark.parametrize("served_name", HOSTILE)
def test_hostile_served_name_reads_back_exactly(
    compose_v2: None, run: Run, write: Callable[[str, str], Path], tmp_path: Path, served_name: str
) -> None:
    quoted = json.dumps(served_name, ensure_ascii=False)
    catalog = write("mine.yaml", f"models:\n  - name: Qwen3-8B\n    served_name: {quoted}\n")
    out = tmp_path / "out"
    result = run("plan", "Qwen3-8B", "--catalog", str(catalog), "--models-dir", "/data/my models", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    (service,) = compose_config(out)["services"].values()
    # `config` prints a literal `$` escaped again as `$$`, so that its output stays a valid compose file
    literal = served_name.replace("$", "$$")
    assert service["command"][2:4] == ["--served-model-name", literal]
    assert service["labels"]["io.ascendgen.served-model-name"] == literal
    models_mount = next(v for v in service["volumes"] if v["target"] == "/models")
    assert models_mount["source"] == "/data/my models" and models_mount["read_only"] is True


# ---- --models-dir: one rule for `plan` and `gpustack`, and compose reads it as the host path meant ----------

RELATIVE_MODELS_DIRS = ["models", "./models", "../models", "my models", "~/models"]


@pytest.mark.parametrize("models_dir", RELATIVE_MODELS_DIRS)
@pytest.mark.parametrize("command", [["plan", "Qwen3-8B"], ["gpustack", "server"]], ids=["plan", "gpustack"])
def test_relative_models_dir_is_refused_by_plan_and_gpustack_alike(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str], models_dir: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", "/home/someone")
    out = tmp_path / "out"
    result = run(*command, "--models-dir", models_dir, "--out", str(out))
    assert result.exit_code == 2, result
    absolute = os.path.abspath(os.path.expanduser(models_dir))
    assert result.stderr == (
        f"error: --models-dir {models_dir!r}: give the host directory as an absolute path, e.g. {absolute} "
        "(compose reads a relative one as a volume name, or relative to the compose file)\n"
    )
    assert not out.exists()


def test_what_compose_does_with_a_relative_source(compose_v2: None, tmp_path: Path) -> None:
    """Why relative paths are refused: `models:/models` is a volume compose does not know."""
    (tmp_path / "compose.yml").write_text(
        'services:\n  s:\n    image: busybox\n    volumes:\n      - "models:/models:ro"\n'
    )
    done = subprocess.run(["docker", "compose", "config"], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert done.returncode != 0 and "undefined volume" in done.stderr


@pytest.mark.parametrize("models_dir", ["/data/my models", "/data/models/", "/模型 #1/$x"])
@pytest.mark.parametrize(
    "command",
    [["plan", "Qwen3-8B"], ["gpustack", "server", "--gpustack-version", "0.7"]],  # 2.x: only a worker mounts models
    ids=["plan", "gpustack"],
)
def test_absolute_models_dir_is_the_host_path_compose_mounts(
    compose_v2: None, run: Run, tmp_path: Path, command: list[str], models_dir: str
) -> None:
    result = run(*command, "--models-dir", models_dir, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    (service,) = compose_config(tmp_path)["services"].values()
    (mount,) = [v for v in service["volumes"] if v["target"] == "/models"]
    # `config` prints a literal `$` as `$$` again
    assert mount["type"] == "bind" and mount["source"] == models_dir.replace("$", "$$")
    assert mount["read_only"] is True
    assert f"--models-dir {shlex.quote(models_dir)}" in (tmp_path / "compose.yml").read_text()  # the recipe keeps it
    assert run("check", str(tmp_path)).exit_code == 0
