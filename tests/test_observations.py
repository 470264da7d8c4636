"""The observations file and calibrate's arithmetic (ascendgen.observations): where the file lives (never the
real home in tests), what compose.yml's labels say the plan expected, and the reserve that would have matched
vLLM, worked out by hand."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from ascendgen.composeconfig import ServiceConfig
from ascendgen.observations import (
    Observation,
    PlannedMemory,
    cache_dir,
    calibrate,
    load_observations,
    observations_path,
    observe,
    planned_memory,
    record,
)
from ascendgen.vllmlog import StartupNumbers

from helpers import Result

Run = Callable[..., Result]


def test_cache_dir_follows_the_xdg_rules(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir({}) == tmp_path / "home" / ".cache" / "ascendgen"
    assert cache_dir({"XDG_CACHE_HOME": "/var/cache/me"}) == Path("/var/cache/me/ascendgen")
    assert cache_dir({"XDG_CACHE_HOME": "relative/cache"}) == tmp_path / "home" / ".cache" / "ascendgen"  # ignored
    assert cache_dir({"ASCENDGEN_CACHE_DIR": "/srv/c", "XDG_CACHE_HOME": "/var/cache/me"}) == Path("/srv/c")


def test_tests_never_write_to_the_real_home(private_cache: Path) -> None:
    assert observations_path() == private_cache / "observations.jsonl"


def test_planned_memory_reads_what_plan_writes(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--image", "v0.9.2rc1", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    plan = result.json()
    compose = yaml.safe_load((tmp_path / "compose.yml").read_text())
    planned = planned_memory(compose["services"]["vllm-qwen3-8b"]["labels"])
    assert planned == PlannedMemory(
        npu_type="910B4",
        kv_cache_tokens=plan["kv_cache_tokens"],
        gpu_memory_utilization=plan["gpu_memory_utilization"],
        usable_gib=pytest.approx(29.49 * plan["gpu_memory_utilization"], abs=0.01),  # type: ignore[arg-type]
        weights_gib=plan["weights_gib_per_npu"],
        reserve_gib=round(plan["activation_reserve_gib"] + plan["runtime_reserve_gib"], 2),
        kv_budget_factor=1.0,
        kv_cache_gib=plan["kv_cache_gib_per_npu"],
        kv_bytes_per_token=plan["kv_bytes_per_token"],
    )


def test_a_file_without_the_labels_has_no_plan() -> None:
    assert planned_memory({"io.ascendgen.model": "Qwen3-8B"}) is None
    assert planned_memory({"io.ascendgen.kv-cache-tokens": "lots"}) is None
    assert planned_memory({"io.ascendgen.kv-cache-tokens": "71040"}) == PlannedMemory(None, 71040)


# Qwen3-8B on a 910B4 as planned with v0.9.2rc1: 147,456 B of KV per token (2 x 36 layers x 8 KV heads x 128 x 2 B)
PLANNED = PlannedMemory(
    npu_type="910B4",
    kv_cache_tokens=71_040,
    gpu_memory_utilization=0.9,
    usable_gib=26.54,
    weights_gib=15.27,
    reserve_gib=1.5,
    kv_budget_factor=1.0,
    kv_cache_gib=9.77,
    kv_bytes_per_token=147_456,
)


def service() -> ServiceConfig:
    labels = {"io.ascendgen.model": "Qwen3-8B", "io.ascendgen.tensor-parallel-size": "1"}
    command = ("serve", "/models/Qwen/Qwen3-8B", "--tensor-parallel-size", "1", "--max-model-len", "40960")
    return ServiceConfig(name="vllm-qwen3-8b", container_name="vllm-qwen3-8b",
                         image="quay.io/ascend/vllm-ascend:v0.9.2rc1", devices=(), volumes=(), command=command,
                         environment={}, labels=labels)  # fmt: skip


def observation(tokens: int, *, container: str = "c1", weights: float | None = None, **planned: object) -> Observation:
    numbers = StartupNumbers(weights_gib=weights, kv_cache_tokens=tokens, vllm_version="0.9.2")
    started = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    return observe(
        service(), replace(PLANNED, **planned), numbers, deployment=Path("/srv/qwen3"), container_id=container,
        started_at=started,
    )  # fmt: skip


def test_observe_records_what_the_plan_and_vllm_said() -> None:
    item = observation(65_536)
    assert (item.model, item.npu_type, item.tensor_parallel_size, item.pipeline_parallel_size) == (
        "Qwen3-8B",
        "910B4",
        1,
        1,
    )
    assert (item.gpu_memory_utilization, item.max_model_len, item.vllm_version) == (0.9, 40960, "0.9.2")
    assert item.image == "quay.io/ascend/vllm-ascend:v0.9.2rc1" and item.outcome == "started"
    assert item.started_at == "2026-12-02T01:00:00+00:00"
    assert Observation.from_json(json.loads(json.dumps(item.to_json()))) == item


def test_the_reserve_that_would_have_matched() -> None:
    # vLLM holds 65,536 tokens = 65,536 x 147,456 B = 9.0 GiB of KV cache; it loaded 15.27 GiB of weights, as planned.
    # usable - weights - KV = 26.54 - 15.27 - 9.0 = 2.27 GiB: the reserve that gives vLLM's cache (planned: 1.5)
    item = observation(65_536, weights=15.27)
    assert item.measured_kv_cache_gib == pytest.approx(9.0)
    assert item.matched_reserve_gib == pytest.approx(2.27)
    assert item.difference_percent == -7.7  # (65,536 - 71,040) / 71,040
    # vLLM's own total memory beats the plan's visible HBM: 31662800896 B = 29.49 GiB x 0.9 = 26.54
    measured = replace(item, measured=replace(item.measured, total_memory_gib=29.0))
    assert measured.matched_reserve_gib == pytest.approx(29.0 * 0.9 - 15.27 - 9.0)
    # 310P halves the KV budget (kv_budget_factor 0.5): 9 GiB of cache took 18 GiB of the budget
    halved = observation(65_536, weights=15.27, kv_budget_factor=0.5)
    assert halved.matched_reserve_gib == pytest.approx(26.54 - 15.27 - 18.0)
    assert observation(65_536, kv_bytes_per_token=None).matched_reserve_gib is None


def test_record_appends_once_per_start_and_skips_what_it_cannot_read(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "observations.jsonl"
    assert record(observation(65_536), path) is True
    assert record(observation(65_536), path) is False  # `up` again on the running container: the same start
    assert record(observation(65_536, container="c2"), path) is True
    with path.open("a") as handle:
        handle.write("not json\n{}\n")
    found, broken = load_observations(path)
    assert [o.container_id for o in found] == ["c1", "c2"] and broken == 2
    assert load_observations(tmp_path / "none.jsonl") == ([], 0)


def test_calibrate_takes_medians_per_npu_type_and_image() -> None:
    items = [
        observation(65_536, container="a", weights=15.27),  # -7.7%, reserve 2.27
        observation(66_560, container="b", weights=15.27),  # -6.3%, reserve 26.54 - 15.27 - 9.140625 = 2.129375
        observation(70_016, container="c", weights=15.30),  # -1.4%, reserve 26.54 - 15.30 - 9.6152... = 1.62
        replace(observation(40_000, container="d"), image="quay.io/ascend/vllm-ascend:v0.11.0"),
        replace(observation(40_000, container="e"), measured=StartupNumbers()),  # vLLM never logged it: left out
    ]
    first, second = calibrate(items)
    assert (first.npu_type, first.image, first.count) == ("910B4", "quay.io/ascend/vllm-ascend:v0.11.0", 1)
    assert (second.image, second.count, second.models) == ("quay.io/ascend/vllm-ascend:v0.9.2rc1", 3, ("Qwen3-8B",))
    assert (second.planned_tokens, second.measured_tokens, second.difference_percent) == (71_040, 66_560, -6.3)
    assert (second.planned_weights_gib, second.measured_weights_gib) == (15.27, 15.27)
    assert (second.planned_reserve_gib, second.matched_reserve_gib) == (1.5, 2.13)
    assert second.to_json()["models"] == ["Qwen3-8B"]
