"""Several models on one server: from the command line and from a deployment file (ascendgen.yaml)."""

from __future__ import annotations

from pathlib import Path

import yaml

from helpers import Run, Write, git_repository


def services(directory: Path) -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((directory / "compose.yml").read_text())["services"]  # type: ignore[no-any-return]


def test_two_models_are_packed_like_the_seed(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-30B-A3B", "Qwen2.5-Coder-32B-Instruct", "--port", "8001", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    found = services(tmp_path)
    assert list(found) == ["vllm-qwen3-30b-a3b", "vllm-qwen2-5-coder-32b-instruct"]
    moe, coder = found.values()
    assert moe["devices"][3:] == [f"/dev/davinci{i}" for i in range(4)]
    assert coder["devices"][3:] == [f"/dev/davinci{i}" for i in range(4, 8)]
    assert moe["command"][moe["command"].index("--port") + 1] == "8001"
    assert coder["command"][coder["command"].index("--port") + 1] == "8002"
    assert moe["container_name"] != coder["container_name"]
    assert "instances on this server" in result.stdout


def test_same_model_twice_gets_distinct_names(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "Qwen3-8B", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    assert [p["npus"] for p in result.json()] == [[0], [1]]
    assert list(services(tmp_path)) == ["vllm-qwen3-8b", "vllm-qwen3-8b-2"]


def test_instances_that_do_not_fit_are_refused(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-30B-A3B", "Qwen2.5-32B-Instruct", "Qwen2.5-72B-Instruct", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "instance 3 (Qwen2.5-72B-Instruct) needs 8 NPUs but only 0" in result.stderr
    assert "8 NPU(s) missing" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_per_instance_flags_with_several_models_point_to_a_deployment_file(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "Qwen3-8B", "--tp", "2", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "deployment file" in result.stderr


SEED_LAYOUT = """
    # seed 001: two models on one Atlas 800I A2
    image: v0.9.2rc1
    instances:
      - model: Qwen3-30B-A3B
        npus: 0-3
        port: 8001
        max_model_len: 32768
      - model: Qwen2.5-Coder-32B-Instruct
        npus: [4, 5, 6, 7]
        port: 8002
        max_model_len: 32768
        served_name: Qwen/Qwen2.5-Coder-32B-Instruct
"""


def test_deployment_file_reproduces_the_seed_layout(run: Run, write: Write, tmp_path: Path) -> None:
    git_repository(tmp_path)  # check reads ../ascendgen.yaml: inside the repository
    deployment = write("ascendgen.yaml", SEED_LAYOUT)
    out = tmp_path / "deploy"
    result = run("plan", "-f", str(deployment), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    text = (out / "compose.yml").read_text()
    assert "# Regenerate (in this directory): ascendgen plan -f ../ascendgen.yaml\n" in text
    moe, coder = services(out).values()
    assert moe["devices"][3:] == ["/dev/davinci0", "/dev/davinci1", "/dev/davinci2", "/dev/davinci3"]
    assert coder["devices"][3:] == ["/dev/davinci4", "/dev/davinci5", "/dev/davinci6", "/dev/davinci7"]
    assert moe["image"] == "quay.io/ascend/vllm-ascend:v0.9.2rc1"
    assert "--max-model-len" in coder["command"] and "32768" in coder["command"]
    assert run("check", str(out)).exit_code == 0


def test_deployment_file_errors_name_file_line_and_field(run: Run, write: Write, tmp_path: Path) -> None:
    bad = write("ascendgen.yaml", "instances:\n  - model: Qwen3-8B\n    prot: 8001\n")
    result = run("plan", "-f", str(bad), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "ascendgen.yaml:3: deployment: instances.0.prot: unknown field (did you mean 'port'?)" in result.stderr
    overlap = write("overlap.yaml", "instances:\n  - {model: Qwen3-8B, npus: 0-1}\n  - {model: Qwen3-8B, npus: 1}\n")
    result = run("plan", "-f", str(overlap), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "NPU 1 is asked for by both instance 1 (Qwen3-8B) and instance 2 (Qwen3-8B)" in result.stderr
