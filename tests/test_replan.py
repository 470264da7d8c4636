"""When vLLM's KV cache holds fewer tokens than --max-model-len (ascendgen.replan): the length vLLM computed,
the exact `ascendgen plan` that starts, and `up --replan`'s rewrite of compose.yml through the recipe in its
header. No engine: a failed start is the Failure `up` builds from the log, with its diagnosis."""

from __future__ import annotations

import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ascendgen.composeconfig import Project
from ascendgen.diagnose import diagnose
from ascendgen.errors import AscendgenError
from ascendgen.replan import CannotReplan, KvShortfall, kv_shortfall, replan_for
from ascendgen.runtime import Failure

from helpers import Result

Run = Callable[..., Result]

# vLLM v1's refusal (vllm/v1/core/kv_cache_utils.py check_enough_kv_cache_memory), as vllm#25350 quotes it
V1_REFUSAL = (
    "(EngineCore_DP0 pid=415) ERROR 10-28 21:14:49 [core.py:708] ValueError: To serve at least one request with the "
    "model's max seq len (40960), (5.62 GiB KV cache is needed, which is larger than the available KV cache memory "
    "(2.81 GiB). Based on the available memory, the estimated maximum model length is 20480. Try increasing "
    "`gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine."
)
# the V0 engine's wording (QwenLM/Qwen3#295)
V0_REFUSAL = (
    "ValueError: The model's max seq len (32768) is larger than the maximum number of tokens that can be stored in KV "
    "cache (16384). Try increasing `gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine."
)


def failure(log: str, service: str = "vllm-qwen3-8b") -> Failure:
    return Failure(service, "its container exited with code 1", log, diagnose(log))


def test_the_length_vllm_computed_from_either_wording() -> None:
    assert kv_shortfall(failure(V1_REFUSAL)) == KvShortfall("vllm-qwen3-8b", 40960, 20480)
    assert kv_shortfall(failure(V0_REFUSAL)) == KvShortfall("vllm-qwen3-8b", 32768, 16384)
    oom = "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB (NPU 0; 29.50 GiB total capacity)"
    assert kv_shortfall(failure(oom)) is None
    assert kv_shortfall(Failure("s", "its container is gone", "", None)) is None


@pytest.fixture
def planned(run: Run, tmp_path: Path) -> Path:
    out = tmp_path / "deploy"
    result = run("plan", "Qwen3-8B", "--image", "v0.9.2rc1", "--port", "8011", "--host", "127.0.0.1", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def command_of(compose: Path) -> list[str]:
    return yaml.safe_load(compose.read_text())["services"]["vllm-qwen3-8b"]["command"]  # type: ignore[no-any-return]


def test_replan_names_the_exact_plan_and_writes_it(planned: Path, run: Run) -> None:
    replan = replan_for(Project(planned, None), KvShortfall("vllm-qwen3-8b", 40960, 20480))
    assert replan.command == (
        f"cd {shlex.quote(str(planned))} && ascendgen plan Qwen3-8B --max-model-len 20480 --port 8011 --image "
        "v0.9.2rc1 --host 127.0.0.1"
    )
    assert replan.write() == [planned / "compose.yml"]
    command = command_of(planned / "compose.yml")
    assert command[command.index("--max-model-len") + 1] == "20480"
    # what it wrote is what that command writes: check finds no drift against the new recipe
    assert run("check", str(planned)).exit_code == 0
    header = (planned / "compose.yml").read_text().splitlines()[1]
    assert header.endswith(replan.command.split(" && ", 1)[1])


def test_the_command_runs_from_anywhere(planned: Path, tmp_path: Path) -> None:
    replan = replan_for(Project(planned, None), KvShortfall("vllm-qwen3-8b", 40960, 20480))
    script = tmp_path / "ascendgen"  # the CLI of this checkout, as `ascendgen` on PATH
    script.write_text("#!/bin/sh\nexec python3 -c 'import sys; print(sys.argv[1:])' \"$@\"\n")
    script.chmod(0o755)
    done = subprocess.run(
        ["sh", "-c", replan.command], cwd="/", env={"PATH": f"{tmp_path}:/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "'--max-model-len', '20480'" in done.stdout


def test_a_hand_edited_file_is_not_overwritten(planned: Path) -> None:
    compose = planned / "compose.yml"
    compose.write_text(compose.read_text().replace("restart: unless-stopped", "restart: always"))
    replan = replan_for(Project(planned, None), KvShortfall("vllm-qwen3-8b", 40960, 20480))
    with pytest.raises(AscendgenError, match="edited by hand since ascendgen wrote it"):
        replan.write()
    assert "restart: always" in compose.read_text()


def test_no_useful_length(planned: Path) -> None:
    with pytest.raises(CannotReplan, match="vLLM found room for 64 tokens of KV cache: no useful length fits"):
        replan_for(Project(planned, None), KvShortfall("vllm-qwen3-8b", 40960, 64))


def test_a_deployment_file_or_several_models_say_what_to_edit(
    run: Run, tmp_path: Path, write: Callable[..., Path]
) -> None:
    several = tmp_path / "several"
    assert run("plan", "Qwen3-8B", "Qwen2.5-7B-Instruct", "--out", str(several)).exit_code == 0
    with pytest.raises(CannotReplan, match=r"list them in a deployment file .* with max_model_len: 20480 for this one"):
        replan_for(Project(several, None), KvShortfall("vllm-qwen3-8b", 40960, 20480))
    file = write("fromfile/ascendgen.yaml", "instances:\n  - model: Qwen3-8B\n")
    assert run("plan", "-f", str(file), "--out", str(file.parent)).exit_code == 0
    with pytest.raises(
        CannotReplan, match=r"set max_model_len: 20480 for the instance of vllm-qwen3-8b in .*ascendgen.yaml"
    ):
        replan_for(Project(file.parent, None), KvShortfall("vllm-qwen3-8b", 40960, 20480))


def test_a_file_ascendgen_did_not_write(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services:\n  vllm:\n    image: x\n")
    with pytest.raises(CannotReplan, match="has no ascendgen recipe in its header: set --max-model-len 20480 in"):
        replan_for(Project(tmp_path, None), KvShortfall("vllm", 40960, 20480))


def test_a_multi_node_plan_rewrites_every_nodes_file(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "cluster"
    result = run(
        "plan", "Qwen3-VL-30B-A3B-Instruct", "--served-name", "qwen3-vl", "--image", "v0.11.0",
        "--node", "192.168.0.147:enp1s0", "--node", "192.168.0.35:enp1s0", "--out", str(out),
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    replan = replan_for(Project(out / "head", None), KvShortfall("vllm-qwen3-vl-30b-a3b-instruct", 262144, 65536))
    assert replan.base == out and replan.command.startswith(f"cd {out} && ascendgen plan Qwen3-VL-30B-A3B-Instruct")
    assert replan.write() == [out / "head" / "compose.yml", out / "worker-1" / "compose.yml"]
    assert "--max-model-len 65536" in (out / "head" / "compose.yml").read_text()
    assert run("check", str(out)).exit_code == 0
