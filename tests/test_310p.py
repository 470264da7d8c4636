"""Planning for the Atlas 300I Duo (310P3) with the shipped data: float16 only, the -310p image builds, and no
--kv-cache-memory-bytes (its worker ignores it)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from ascendgen.catalog import load_catalog

from helpers import Run, tiny_model_entry

DUO = ("--server", "atlas-300i-duo")


def test_a_bf16_model_is_served_with_dtype_float16_in_the_compose_file(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", *DUO, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    done = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    (service,) = json.loads(done.stdout)["services"].values()
    command = service["command"]
    assert command[command.index("--dtype") + 1] == "float16"
    assert service["image"] == "quay.io/ascend/vllm-ascend:v0.23.0.post1-310p"
    assert not any(arg.startswith("--kv-cache-mem") for arg in command)
    assert "HCCL_OP_EXPANSION_MODE" not in service["environment"]  # hardware.yaml drop_env for 310P


def test_every_catalog_model_on_the_duo_is_float16_and_never_gets_kv_cache_memory_bytes(run: Run) -> None:
    planned = 0
    for model in load_catalog().models:
        result = run("plan", model.name, *DUO, "--dry-run", "--json")
        if result.exit_code != 0:
            assert result.exit_code == 2 and "does not fit" in result.stderr, (model.name, result.stderr)
            continue
        planned += 1
        args = result.json()["serve_args"]
        assert not any(arg.startswith("--kv-cache-mem") for arg in args), model.name
        if model.dtype == "bfloat16":
            assert args[args.index("--dtype") + 1] == "float16", model.name
        assert result.json()["image"].endswith("-310p"), model.name
    assert planned >= 40  # most of the catalog's small models run on one card


@pytest.mark.parametrize("flag", ["--kv-cache-memory-bytes=4000000000", "--kv-cache-memory=4000000000"])
def test_a_catalog_that_asks_for_kv_cache_memory_bytes_is_refused_on_the_duo(
    run: Run, write: Callable[[str, str], Path], tmp_path: Path, flag: str
) -> None:
    catalog = write("mine.yaml", "models:\n" + tiny_model_entry("Tiny") + f'    serve_flags: ["{flag}"]\n')
    refused = run("plan", "Tiny", *DUO, "--catalog", str(catalog), "--out", str(tmp_path / "duo"))
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: Tiny's serve flag {flag} is not honoured by the 310p worker (vllm_ascend/_310p/worker_310p.py "
        "ignores it): drop it from serve_flags; --gpu-memory-utilization sets the memory vLLM may use\n"
    )
    assert not (tmp_path / "duo").exists()
    on_a2 = run("plan", "Tiny", "--catalog", str(catalog), "--dry-run", "--json")  # v0.23.0.post1 on an A2 honours it
    assert on_a2.exit_code == 0, on_a2.stderr
    assert flag.split("=")[0] in on_a2.json()["serve_args"]
