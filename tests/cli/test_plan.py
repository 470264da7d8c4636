"""`ascendgen plan` and `ascendgen models` run as a user runs them."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from helpers import Run

JSON_KEYS = {
    "model",
    "npu_type",
    "hbm_gib",
    "tensor_parallel_size",
    "npus",
    "weights_gib_per_npu",
    "kv_bytes_per_token",
    "kv_cache_gib_per_npu",
    "kv_cache_tokens",
    "max_model_len",
    "max_concurrency",
    "gpu_memory_utilization",
    "port",
    "image",
    "serve_args",
    "warnings",
}


def test_plan_writes_compose_and_explains(run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = run("plan", "Qwen3-30B-A3B")
    assert result.exit_code == 0, result.stderr
    for label in ["Tensor parallel", "Weights per NPU", "KV per token", "KV cache", "max-model-len", "Concurrency"]:
        assert label in result.stdout
    assert "wrote compose.yml" in result.stderr
    compose = yaml.safe_load((tmp_path / "compose.yml").read_text())
    (service,) = compose["services"].values()
    assert "/dev/davinci3" in service["devices"] and "/dev/davinci4" not in service["devices"]
    assert service["command"][:2] == ["serve", "/models/Qwen/Qwen3-30B-A3B"]
    assert "--enable-expert-parallel" in service["command"]


def test_plan_json_contract(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--json", "--dry-run", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert set(data) >= JSON_KEYS
    assert data["model"] == "Qwen3-8B"
    assert data["npu_type"] == "910B4" and data["hbm_gib"] == 32
    assert data["tensor_parallel_size"] == 1 and data["npus"] == [0]
    assert data["serve_args"][0] == "/models/Qwen/Qwen3-8B"
    assert isinstance(data["warnings"], list)
    assert not (tmp_path / "compose.yml").exists()


def test_dry_run_writes_nothing(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--dry-run", "--out", str(tmp_path))
    assert result.exit_code == 0
    assert list(tmp_path.iterdir()) == []


def test_out_directory_is_created(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--out", str(tmp_path / "deploy" / "qwen"))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "deploy" / "qwen" / "compose.yml").is_file()


def test_same_inputs_same_bytes(run: Run, tmp_path: Path) -> None:
    run("plan", "Qwen3-30B-A3B", "--npus", "4-7", "--port", "8001", "--out", str(tmp_path / "a"))
    run("plan", "Qwen3-30B-A3B", "--port", "8001", "--npus", "4,5,6,7", "--out", str(tmp_path / "b"))
    first = (tmp_path / "a" / "compose.yml").read_bytes()
    assert first == (tmp_path / "b" / "compose.yml").read_bytes()
    assert b"# Regenerate (in this directory): ascendgen plan Qwen3-30B-A3B --npus 4-7 --port 8001\n" in first


def test_regenerate_line_reproduces_the_file(run: Run, tmp_path: Path) -> None:
    run("plan", "Qwen2.5-7B-Instruct", "--tp", "2", "--max-model-len", "16384", "--out", str(tmp_path))
    text = (tmp_path / "compose.yml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("# Regenerate (in this directory): "))
    args = line.split(": ", 1)[1].removeprefix("ascendgen ").split()
    (tmp_path / "compose.yml").unlink()
    assert run(*args, "--out", str(tmp_path)).exit_code == 0
    assert (tmp_path / "compose.yml").read_text() == text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["plan", "No-Such-Model"], "unknown model 'No-Such-Model'"),
        (["plan", "Qwen3-8B", "--tp", "3"], "--tp 3 does not divide Qwen3-8B's 32 attention heads"),
        (["plan", "Qwen2.5-7B-Instruct", "--tp", "8"], "valid sizes: 1, 2, 4"),
        (["plan", "Qwen3-8B", "--npus", "0-3", "--tp", "8"], "--tp 8 uses 8 NPUs but --npus 0-3 lists 4"),
        (["plan", "Qwen3-8B", "--max-model-len", "10000000"], "--max-model-len 10000000 is above"),
        (["plan", "Qwen3-8B", "--npus", "9"], "NPU 9 is not on atlas-800i-a2"),
        (["plan", "Qwen3-8B", "--npus", "x"], "--npus 'x'"),
        (["plan", "Qwen3-8B", "--port", "70000"], "--port 70000"),
        (["plan", "Qwen3-8B", "--gpu-memory-utilization", "1.5"], "--gpu-memory-utilization 1.5"),
        (["plan", "Qwen3-8B", "--npu-type", "910X"], "unknown NPU type '910X'"),
        (["plan", "Qwen3-8B", "--tp", "abc"], "Invalid value for '--tp'"),
        (["plan", "Qwen3-8B", "--no-such-flag"], "No such option"),
        (["plan"], "name a model"),
        (["plan", "Qwen3-8B", "--models-dir", "/a:b"], "--models-dir '/a:b'"),
    ],
)
def test_bad_input_is_one_line_exit_2_no_file(run: Run, tmp_path: Path, args: list[str], message: str) -> None:
    result = run(*args, "--out", str(tmp_path))
    assert result.exit_code == 2, result
    assert message in result.stderr
    assert result.stderr.startswith("error: ")
    assert result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--served-name", "--api-key"], "starts with '-': vLLM's argument parser would read it as an option"),
        (["--served-name=-1"], "starts with '-'"),
        (["--served-name", "   "], "must be one line of printable text"),
        (["--served-name", ""], "must be one line of printable text"),
        (["--served-name", "a\nb"], "must be one line of printable text"),
        (["--served-name", " qwen3"], "begins or ends with spaces"),
        (["--served-name", "qwen3\t"], "must be one line"),
    ],
)
def test_served_names_vllm_would_misread_are_refused(run: Run, tmp_path: Path, args: list[str], message: str) -> None:
    result = run("plan", "Qwen3-8B", *args, "--out", str(tmp_path))
    assert result.exit_code == 2, result
    assert message in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_served_name_from_a_catalog_is_checked_too(run: Run, write: Callable[[str, str], Path], tmp_path: Path) -> None:
    catalog = write("mine.yaml", 'models:\n  - name: Qwen3-8B\n    served_name: "--port"\n')
    result = run("plan", "Qwen3-8B", "--catalog", str(catalog), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2 and "served name '--port' starts with '-'" in result.stderr
    # a name given on the command line replaces the catalog's
    fixed = run("plan", "Qwen3-8B", "--catalog", str(catalog), "--served-name", "q-8b", "--dry-run", "--json")
    assert fixed.exit_code == 0, fixed.stderr


@pytest.mark.parametrize("name", ["qwen3-8b", "Qwen/Qwen3-8B", "my model", "a-", "0"])
def test_served_names_vllm_reads_are_kept(run: Run, tmp_path: Path, name: str) -> None:
    result = run("plan", "Qwen3-8B", "--served-name", name, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    command = yaml.safe_load((tmp_path / "compose.yml").read_text())["services"]["vllm-qwen3-8b"]["command"]
    assert command[command.index("--served-model-name") + 1] == name


def test_names_are_shown_as_written_not_as_emoji(run: Run, write: Callable[[str, str], Path]) -> None:
    """rich turns ':ok:' into an emoji unless told not to: a served name 'chat:ok:v1' is printed as that."""
    deployment = write(
        "ascendgen.yaml",
        'instances:\n  - model: Qwen3-8B\n    served_name: "chat:ok:v1"\n  - model: Qwen2.5-7B-Instruct\n',
    )
    result = run("plan", "-f", str(deployment), "--dry-run")
    assert result.exit_code == 0, result.stderr
    assert "│ chat:ok:v1 " in result.stdout  # the instances table's served-name column
    assert "\N{SQUARED OK}" not in result.stdout
    refused = run("plan", "Qwen3-8B", "--served-name", "chat:ok:v1 ", "--dry-run")
    assert refused.exit_code == 2 and "'chat:ok:v1 '" in refused.stderr  # the error line (stderr) too


def test_refusal_leaves_existing_compose_untouched(run: Run, tmp_path: Path) -> None:
    existing = tmp_path / "compose.yml"
    existing.write_text("services: {mine: {image: keep}}\n")
    result = run("plan", "Qwen3-8B", "--tp", "3", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert existing.read_text() == "services: {mine: {image: keep}}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yml"]


def test_malformed_catalog_is_one_line(run: Run, write: Callable[[str, str], Path], tmp_path: Path) -> None:
    bad = write("bad.yaml", "models:\n  - name: Qwen3-8B\n    num_attention_heads: -4\n")
    result = run("plan", "Qwen3-8B", "--catalog", str(bad), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "bad.yaml:3: model 'Qwen3-8B': num_attention_heads: Input should be greater than 0" in result.stderr
    assert not (tmp_path / "out").exists()


def test_weights_that_do_not_fit_say_how_many_npus(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-235B-A22B", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "does not fit on one atlas-800i-a2 (8 x 910B4)" in result.stderr
    assert "it needs 4 servers like this one (32 x 910B4)" in result.stderr


def test_models_lists_the_catalog(run: Run) -> None:
    table = run("models")
    assert table.exit_code == 0
    assert "Qwen3-30B-A3B" in table.stdout and "DeepSeek-V3-Pruning" in table.stdout
    data = run("models", "--json").json()
    assert isinstance(data, list) and len(data) >= 25
    assert {"name", "hub_id", "num_attention_heads", "npus", "source"} <= set(data[0])


def test_version_and_help(run: Run) -> None:
    from ascendgen import __version__

    assert run("--version").stdout.strip() == f"ascendgen {__version__}"
    for command in ["plan", "models"]:
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Example:" in result.stdout


def test_python_m_entry_point(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ascendgen", "plan", "Qwen3-8B", "--dry-run", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert '"tensor_parallel_size": 1' in done.stdout
