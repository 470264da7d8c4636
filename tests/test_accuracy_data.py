"""bench/observations.yaml stays sound data: it validates, and every number an observation claims is in the log lines
it quotes, so that the accuracy bench (bench/accuracy.py) cannot drift from its sources; and the accuracy claim of
bench/README.md holds (median |error| at most 3%, no over-estimate above 1%, the margins cover the worst one), with the
MoE reserve of the images up to v0.14 fitting the log it was fit from."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
OBSERVATIONS = ROOT / "bench" / "observations.yaml"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_accuracy", ROOT / "bench" / "accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


BENCH = _bench()
ALL = BENCH.load_observations(OBSERVATIONS)
USED = [o for o in ALL if o.role != "unused"]


def _has_number(lines: str, text: str) -> bool:
    """`text` (a number as the log prints it) stands in `lines` as a whole number, not inside a longer one."""
    before = r"(?<![\d.,])" if text[0].isdigit() else ""
    after = r"(?![\d]|[.,]\d)" if text[-1].isdigit() else ""
    return re.search(before + re.escape(text) + after, lines) is not None


def claims(observation: object) -> list[str]:
    """The numbers an observation says its log shows, as the log prints them."""
    o = observation
    found = [f"{o.kv_cache_tokens:,}"] if o.kv_cache_tokens is not None else []  # type: ignore[attr-defined]
    found += [str(b) for b in o.available_memory_bytes]  # type: ignore[attr-defined]
    if o.total_memory_bytes is not None:  # type: ignore[attr-defined]
        found.append(f"total memory: {o.total_memory_bytes}")  # type: ignore[attr-defined]
    if o.total_memory_gib is not None:  # type: ignore[attr-defined]
        found.append(f"/{o.total_memory_gib:.2f} GiB)")  # type: ignore[attr-defined]
    if o.available_kv_cache_gib is not None:  # type: ignore[attr-defined]
        found.append(f"{o.available_kv_cache_gib:.2f} GiB")  # type: ignore[attr-defined]
    if o.weights_gib is not None:  # type: ignore[attr-defined]
        weights = o.weights_gib  # type: ignore[attr-defined]
        found.append(f"{weights:.4f} GB" if f"{weights:.4f} GB" in o.lines else f"{weights:.2f} GiB for weights")  # type: ignore[attr-defined]
    return found


def test_the_observations_validate_with_unique_ids_and_enough_scored() -> None:
    assert len(ALL) >= 25
    assert len({o.id for o in ALL}) == len(ALL)
    # a held-out test set exists beside the observations the reserves were chosen from
    assert {o.role for o in USED} == {"fit", "test"}


@pytest.mark.parametrize("observation", USED, ids=lambda o: o.id)
def test_a_scored_observation_cites_its_source_and_shows_its_numbers(observation: object) -> None:
    o = observation
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+/(issues|pull|blob)/\S+", o.url)  # type: ignore[attr-defined]
    assert o.lines.strip() and o.model_evidence and o.hardware_evidence and o.version_evidence  # type: ignore[attr-defined]
    assert o.kv_cache_tokens is not None or o.available_kv_cache_gib is not None  # type: ignore[attr-defined]
    for number in claims(o):
        assert _has_number(o.lines, number), f"{o.id}: {number!r} is not in its lines"  # type: ignore[attr-defined]


@pytest.mark.parametrize("observation", [o for o in ALL if o.role == "unused"], ids=lambda o: o.id)
def test_an_unused_observation_says_why_and_shows_its_numbers(observation: object) -> None:
    o = observation
    assert o.unused_because and o.url.startswith("https://")  # type: ignore[attr-defined]
    for number in claims(o):
        assert _has_number(o.lines, number), f"{o.id}: {number!r} is not in its lines"  # type: ignore[attr-defined]


def test_a_number_inside_a_longer_one_does_not_count() -> None:
    assert _has_number("GPU KV cache size: 1,768,512 tokens", "768,512") is False
    assert _has_number("GPU KV cache size: 768,512 tokens", "768,512") is True
    assert _has_number("Available KV cache memory: 154.98 GiB", "54.98 GiB") is False


def test_every_scored_observation_plans() -> None:
    # the bench can plan each one (model, NPU type and image are known); what it finds is the bench's business
    from ascendgen.catalog import load_catalog
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images

    catalog, hardware, images = load_catalog(), load_hardware(), load_images()
    for observation in USED:
        result = BENCH.plan_observation(observation, catalog, hardware, images)
        assert result.observed > 0 and result.predicted > 0, observation.id


def _write(tmp_path: Path, entry: dict[str, object]) -> Path:
    path = tmp_path / "observations.yaml"
    path.write_text(yaml.safe_dump({"observations": [entry]}), encoding="utf-8")
    return path


GOOD = {
    "id": "x-1",
    "role": "test",
    "url": "https://github.com/o/r/issues/1",
    "lines": "GPU KV cache size: 72,448 tokens",
    "model": "Qwen3-8B",
    "model_evidence": "e",
    "npu_type": "910B4",
    "hardware_evidence": "e",
    "image": "v0.11.0",
    "version_evidence": "e",
    "kv_cache_tokens": 72448,
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"typo_field": 1}, "typo_field: Extra inputs are not permitted"),
        ({"model": None}, "a scored observation needs model"),
        ({"kv_cache_tokens": None}, "kv_cache_tokens or available_kv_cache_gib"),
        ({"role": "unused"}, "says why in unused_because"),
        ({"tp": "2"}, "tp: Input should be a valid integer"),
        ({"url": "http://example.com"}, "url: String should match pattern"),
    ],
)
def test_the_schema_refuses_what_it_cannot_check(tmp_path: Path, change: dict[str, object], message: str) -> None:
    assert len(BENCH.load_observations(_write(tmp_path, GOOD))) == 1
    with pytest.raises(ValueError, match=re.escape(message)):
        BENCH.load_observations(_write(tmp_path, {**GOOD, **change}))


def test_observed_tokens_take_the_smallest_rank() -> None:
    # vllm-ascend-4074 prints rank 0's 400,640 tokens; rank 1 has 29,297,150,361 B / (73,728 B x 128) = 3,104 blocks
    # = 397,312 tokens, which vLLM keeps for every rank
    from ascendgen.catalog import load_catalog

    observation = next(o for o in ALL if o.id == "vllm-ascend-4074")
    model = BENCH.model_of(observation, load_catalog())
    assert BENCH.observed_tokens(observation, model) == 397_312


def test_the_accuracy_goals_hold_on_the_scored_observations() -> None:
    # the claim of bench/README.md "Accuracy": median |error| at most 3%, no over-estimate above 1%, and each
    # platform's kv_cache_margin records and covers its worst over-estimate
    from ascendgen.catalog import load_catalog
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images

    catalog, hardware, images = load_catalog(), load_hardware(), load_images()
    results = [BENCH.plan_observation(o, catalog, hardware, images) for o in USED]
    summary = BENCH.summarize(results)
    assert summary.median_abs_percent <= BENCH.GOAL_MEDIAN_ERROR_PERCENT
    assert summary.worst_over_percent <= BENCH.GOAL_WORST_OVERESTIMATE_PERCENT
    assert BENCH.margin_problems(results, hardware) == []


def test_the_moe_reserve_of_images_up_to_v0_14_fits_its_log() -> None:
    # moe_extra_gib (hardware.yaml) was fit from vllm-ascend-6250, the MoE log of that range with every setting known:
    # its KV cache memory per NPU is planned within 1% below the log (+8.7% without it)
    from ascendgen.catalog import load_catalog
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images

    observation = next(o for o in ALL if o.id == "vllm-ascend-6250")
    check = BENCH.memory_check(observation, load_catalog(), load_hardware(), load_images())
    assert check is not None and -1.0 <= check.error_percent <= 0.0
