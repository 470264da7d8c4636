"""`up`, `status` and `calibrate` holding the plan against vLLM's startup log, without an engine: compose and
the wait are replaced, the container and its log are a fake Docker client's (the real runs are in
tests/e2e/test_plan_vs_vllm_e2e.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascendgen import dockerengine, preflight, runtime
from ascendgen.diagnose import diagnose
from ascendgen.observations import load_observations
from ascendgen.preflight import PreflightReport
from ascendgen.runtime import Failure, UpOutcome

from helpers import Run

STARTED = "2026-12-02T01:00:00.123456789Z"
KV_BYTES, GiB = 147_456, 2**30  # Qwen3-8B at TP 1: 2 x 36 layers x 8 KV heads x 128 x 2 B per token


def startup(tokens: int, max_len: int = 40960, weights: float = 15.2684) -> str:
    """A vllm-ascend start as the image logs it (the stand-in prints the same lines)."""
    return (
        "INFO 12-02 01:00:01 [api_server.py:1395] vLLM API server version 0.9.2\n"
        f"INFO 12-02 01:00:09 [model_runner_v1.py:1777] Loading model weights took {weights:.4f} GB\n"
        f"(Worker_TP0 pid=9) INFO 12-02 01:00:20 [worker.py:357] Available KV cache memory: "
        f"{tokens * KV_BYTES / GiB:.2f} GiB\n"
        f"(EngineCore_DP0 pid=8) INFO 12-02 01:00:20 [kv_cache_utils.py:1316] GPU KV cache size: {tokens:,} tokens\n"
        f"(EngineCore_DP0 pid=8) INFO 12-02 01:00:20 [kv_cache_utils.py:1321] Maximum concurrency for {max_len:,} "
        f"tokens per request: {tokens / max_len:.2f}x\n"
        "INFO 12-02 01:00:21 [api_server.py:1457] Starting vLLM API server 0 on http://127.0.0.1:8011\n"
    )  # fmt: skip


REFUSAL = (
    "INFO 12-02 01:00:01 [api_server.py:1395] vLLM API server version 0.9.2\n"
    "INFO 12-02 01:00:09 [model_runner_v1.py:1777] Loading model weights took 15.2684 GB\n"
    "(EngineCore_DP0 pid=8) ERROR 12-02 01:00:20 [core.py:586] ValueError: To serve at least one request with the "
    "model's max seq len (40960), (5.62 GiB KV cache is needed, which is larger than the available KV cache memory "
    "(2.81 GiB). Based on the available memory, the estimated maximum model length is 20480. Try increasing "
    "`gpu_memory_utilization` or decreasing `max_model_len` when initializing the engine.\n"
)


class Container:
    def __init__(self, project_name: str, log: str) -> None:
        self.id = "c0ffee"
        self.name = "vllm-qwen3-8b"
        self.status = "running"
        self.labels = {"com.docker.compose.project": project_name, "com.docker.compose.service": "vllm-qwen3-8b"}
        self.attrs = {"State": {"Status": "running", "StartedAt": STARTED}, "RestartCount": 0}
        self.log = log
        self.asked: dict[str, Any] = {}

    def logs(self, **kwargs: Any) -> Iterator[bytes]:
        self.asked = kwargs
        data = self.log.encode()
        return iter([data[i : i + 100] for i in range(0, len(data), 100)])


class Engine:
    """The docker SDK client as up and status use it."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.containers = self

    def list(self, all: bool = False, filters: dict[str, str] | None = None) -> list[Container]:
        return [self.container]

    def get(self, container_id: str) -> Container:
        return self.container

    def ping(self) -> bool:
        return True


@pytest.fixture
def planned(run: Run, tmp_path: Path) -> Path:
    out = tmp_path / "qwen3"
    result = run("plan", "Qwen3-8B", "--image", "v0.9.2rc1", "--port", "8011", "--host", "127.0.0.1", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    return out


def planned_tokens(directory: Path) -> int:
    labels = yaml.safe_load((directory / "compose.yml").read_text())["services"]["vllm-qwen3-8b"]["labels"]
    return int(labels["io.ascendgen.kv-cache-tokens"])


@pytest.fixture
def engine(planned: Path, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """A running container of the planned deployment; preflight and compose up pass, the wait returns at once."""
    fake = Engine(Container(planned.name, startup(65_536)))
    monkeypatch.setattr(dockerengine, "docker_client", lambda timeout_s: fake)
    monkeypatch.setattr(preflight, "run_preflight", lambda *a, **k: PreflightReport())
    monkeypatch.setattr(runtime, "compose_up", lambda *a: UpOutcome(["vllm-qwen3-8b"], [], ["c0ffee"]))
    monkeypatch.setattr(runtime, "wait_until_ready", lambda *a, **k: (12.0, []))
    return fake


def test_up_shows_the_plan_beside_vllms_numbers_and_keeps_them(run: Run, planned: Path, engine: Engine) -> None:
    planned_kv = planned_tokens(planned)
    result = run("up", str(planned))
    assert result.exit_code == 0, result.stderr
    assert "the plan against vLLM's startup log" in result.stdout
    difference = round((65_536 - planned_kv) / planned_kv * 100, 1)
    row = next(line for line in result.stdout.splitlines() if "vllm-qwen3-8b" in line)
    assert f"{planned_kv:,}" in row and "65,536" in row and f"{difference:+.1f}%" in row
    assert "15.27" in row and "1.60x" in row  # weights and concurrency as vLLM logged them
    assert engine.container.asked["since"].isoformat() == "2026-12-02T01:00:00.123456+00:00"  # this start only
    (kept,), _ = load_observations()
    assert (kept.model, kept.npu_type, kept.planned.kv_cache_tokens, kept.measured.kv_cache_tokens) == (
        "Qwen3-8B", "910B4", planned_kv, 65_536,
    )  # fmt: skip
    assert kept.deployment == str(planned) and kept.outcome == "started"
    if difference < -10:
        assert "fewer than planned" in result.stderr
    run("up", str(planned))
    assert len(load_observations()[0]) == 1  # the same start is kept once


def test_a_much_smaller_kv_cache_is_a_warning(run: Run, planned: Path, engine: Engine) -> None:
    engine.container.log = startup(40_960)
    result = run("up", str(planned))
    assert result.exit_code == 0
    share = 100 - 40_960 * 100 / planned_tokens(planned)
    assert (
        f"warning: vllm-qwen3-8b: vLLM's KV cache holds 40,960 tokens, {share:.0f}% fewer than planned" in result.stderr
    )


def test_up_without_vllms_numbers_prints_no_table(run: Run, planned: Path, engine: Engine) -> None:
    engine.container.log = "INFO 12-02 01:00:01 [api_server.py:1395] vLLM API server version 0.9.2\n"
    result = run("up", str(planned))
    assert result.exit_code == 0 and "startup log" not in result.stdout
    assert load_observations() == ([], 0)


def test_an_unwritable_cache_warns_but_up_succeeds(
    run: Run, planned: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("ASCENDGEN_CACHE_DIR", str(blocker))
    result = run("up", str(planned))
    assert result.exit_code == 0
    assert f"cannot keep the measurement in {blocker / 'observations.jsonl'}" in result.stderr


def kv_failure(engine: Engine) -> Failure:
    return Failure("vllm-qwen3-8b", "its container exited with code 1", REFUSAL, diagnose(REFUSAL))


def test_a_kv_cache_too_small_says_the_exact_plan_that_starts(
    run: Run, planned: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.container.log = REFUSAL
    monkeypatch.setattr(runtime, "wait_until_ready", lambda *a, **k: (30.0, [kv_failure(engine)]))
    before = (planned / "compose.yml").read_text()
    result = run("up", str(planned))
    assert result.exit_code == 1
    err = " ".join(result.stderr.split())  # rich folds long lines
    assert "vllm-qwen3-8b: vLLM computed that its KV cache holds 20,480 tokens, less than --max-model-len 40,960" in err
    assert (
        f"to start with the length vLLM computed: cd {planned} && ascendgen plan Qwen3-8B --max-model-len 20480 "
        f"--port 8011 --image v0.9.2rc1 --host 127.0.0.1 && ascendgen up {planned}"
    ) in err
    assert f"or let up do both: ascendgen up {planned} --replan" in err
    assert (planned / "compose.yml").read_text() == before  # nothing rewritten without --replan
    (kept,), _ = load_observations()  # a refusal is a measurement too
    assert kept.outcome == "kv_cache_too_small" and kept.measured.kv_cache_tokens == 20_480


def test_up_replan_rewrites_compose_yml_and_starts_once_more(
    run: Run, planned: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine.container.log = REFUSAL
    waits: list[int] = []

    def wait(*args: Any, **kwargs: Any) -> tuple[float, list[Failure]]:
        waits.append(1)
        if len(waits) == 1:
            return 30.0, [kv_failure(engine)]
        engine.container.log = startup(20_480, max_len=20_480)  # the recreated container starts
        return 20.0, []

    monkeypatch.setattr(runtime, "wait_until_ready", wait)
    result = run("up", str(planned), "--replan")
    assert result.exit_code == 0, result.stderr
    assert len(waits) == 2
    assert "replanning with --max-model-len 20,480, the length vLLM computed fits" in result.stderr
    assert f"rewrote {planned / 'compose.yml'}" in result.stderr
    command = yaml.safe_load((planned / "compose.yml").read_text())["services"]["vllm-qwen3-8b"]["command"]
    assert command[command.index("--max-model-len") + 1] == "20480"
    assert run("check", str(planned)).exit_code == 0  # written as `plan` writes it
    assert "20,480" in result.stdout
    assert [o.outcome for o in load_observations()[0]] == ["kv_cache_too_small", "started"]


def test_up_replan_retries_only_once(run: Run, planned: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.container.log = REFUSAL
    monkeypatch.setattr(runtime, "wait_until_ready", lambda *a, **k: (30.0, [kv_failure(engine)]))
    result = run("up", str(planned), "--replan")
    assert result.exit_code == 1
    assert result.stderr.count("replanning with") == 1
    assert "error: 1 service(s) did not become ready" in result.stderr


def test_replan_leaves_other_failures_alone(
    run: Run, planned: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    oom = "RuntimeError: NPU out of memory. Tried to allocate 2.00 GiB (NPU 0; 29.50 GiB total capacity)"
    failed = Failure("vllm-qwen3-8b", "its container exited with code 1", oom, diagnose(oom))
    monkeypatch.setattr(runtime, "wait_until_ready", lambda *a, **k: (30.0, [failed]))
    before = (planned / "compose.yml").read_text()
    result = run("up", str(planned), "--replan")
    assert result.exit_code == 1 and (planned / "compose.yml").read_text() == before
    assert (
        "--replan sets --max-model-len when vLLM finds its KV cache too small for it; not this failure" in result.stderr
    )


def test_status_json_gives_planned_and_measured_tokens(run: Run, planned: Path, engine: Engine) -> None:
    (row,) = json.loads(run("status", str(planned), "--json").stdout)
    assert row["planned_kv_cache_tokens"] == planned_tokens(planned) and row["measured_kv_cache_tokens"] == 65_536
    engine.container.log = "INFO 12-02 01:00:01 [api_server.py:1395] vLLM API server version 0.9.2\n"  # still loading
    (row,) = json.loads(run("status", str(planned), "--json").stdout)
    assert row["planned_kv_cache_tokens"] == planned_tokens(planned) and row["measured_kv_cache_tokens"] is None
    table = run("status", str(planned)).stdout
    assert f"-/{planned_tokens(planned):,}" in table


def test_calibrate_after_ups(run: Run, planned: Path, engine: Engine) -> None:
    assert "no measurements yet" in run("calibrate").stderr
    assert run("up", str(planned)).exit_code == 0
    engine.container.attrs["State"]["StartedAt"] = "2026-12-02T02:00:00Z"  # restarted: another measurement
    engine.container.log = startup(66_560)
    assert run("up", str(planned)).exit_code == 0
    data = run("calibrate", "--json").json()
    assert data["observations"] == 2
    (group,) = data["groups"]
    assert group["npu_type"] == "910B4" and group["image"] == "quay.io/ascend/vllm-ascend:v0.9.2rc1"
    assert group["count"] == 2 and group["measured_tokens"] == 66_048  # the median of 65,536 and 66,560
    assert group["planned_tokens"] == planned_tokens(planned)
    text = run("calibrate")
    assert text.exit_code == 0
    assert "910B4 with quay.io/ascend/vllm-ascend:v0.9.2rc1 (2 starts): vLLM's KV cache is" in " ".join(
        text.stdout.split()
    )


def test_up_replan_never_overwrites_a_hand_edit(
    run: Run, planned: Path, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose = planned / "compose.yml"
    compose.write_text(compose.read_text().replace("restart: unless-stopped", "restart: always"))
    engine.container.log = REFUSAL
    monkeypatch.setattr(runtime, "wait_until_ready", lambda *a, **k: (30.0, [kv_failure(engine)]))
    result = run("up", str(planned), "--replan")
    assert result.exit_code == 1 and "restart: always" in compose.read_text()
    err = " ".join(result.stderr.split())
    assert "was edited by hand since ascendgen wrote it" in err
    assert "--max-model-len 20480 --port 8011 --image v0.9.2rc1 --host 127.0.0.1 --force" in err
    assert err.endswith("error: compose.yml was not rewritten; nothing was started again")


def test_the_plan_a_container_was_started_with_counts(run: Run, planned: Path, engine: Engine) -> None:
    # compose.yml planned again since (another length, other numbers) but the container not recreated: its labels
    # say what it was started with
    engine.container.labels = {**engine.container.labels, "io.ascendgen.kv-cache-tokens": "70000"}
    assert run("up", str(planned)).exit_code == 0
    (kept,), _ = load_observations()
    assert kept.planned.kv_cache_tokens == 70_000
    (row,) = json.loads(run("status", str(planned), "--json").stdout)
    assert row["planned_kv_cache_tokens"] == 70_000 and row["measured_kv_cache_tokens"] == 65_536
