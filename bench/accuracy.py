"""Accuracy benchmark: the planner's KV cache size against the sizes published vllm-ascend start-up logs show.

Each observation in bench/observations.yaml is planned with the same model, NPU type, TP x PP, utilization and image
(planner.plan_deployment, the function `ascendgen plan` calls), and the planned KV cache tokens are compared with the
tokens vLLM logged. It is arithmetic on published numbers: the result does not depend on the machine it runs on.

Goals (bench/README.md "Accuracy"): the median absolute error at most 3%, and no over-estimate above 1% (an
over-estimate is a max-model-len that does not start). The KV cache margin each platform keeps in hardware.yaml must
cover the worst over-estimate measured on it, and record it.

Run: python bench/accuracy.py [--markdown]   (ascendgen importable, e.g. PYTHONPATH=src)
Exit code 0 when every goal is met, 1 when one is not, 2 when observations.yaml is not valid."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Literal

import yaml

from ascendgen.catalog import Catalog, ModelSpec, load_catalog
from ascendgen.errors import AscendgenError
from ascendgen.hardware import Hardware, load_hardware
from ascendgen.images import ImageSpec, choose_image, load_images, tag_key
from ascendgen.planner import BLOCK_TOKENS, EP_FLAG, GIB, Plan, PlanOptions, kv_bytes_per_token, plan_deployment
from ascendgen.plans import resolve_server
from ascendgen.records import Record, RecordError, Rule, validate
from ascendgen.yamlfile import Items

OBSERVATIONS = Path(__file__).with_name("observations.yaml")
GOAL_MEDIAN_ERROR_PERCENT = 3.0
GOAL_WORST_OVERESTIMATE_PERCENT = 1.0

Count = Annotated[int, Rule(gt=0)]
Bytes = Annotated[int, Rule(ge=0)]


@dataclass(frozen=True, kw_only=True)
class Observation(Record):
    """One published start-up log: where, the lines as published, what was deployed and what the log shows."""

    id: Annotated[str, Rule(pattern=r"^[a-z0-9][a-z0-9.-]*$")]
    role: Literal["fit", "test", "unused"]
    unused_because: str | None = None
    url: Annotated[str, Rule(pattern=r"^https://\S+$")]
    lines: Annotated[str, Rule(min_length=1)]
    model: str | ModelSpec | None = None  # a models.yaml name, or the model's facts inline
    model_evidence: str | None = None
    dtype: Literal["bfloat16", "float16"] | None = None  # --dtype served with, when not the model's
    npu_type: str | None = None
    hardware_evidence: str | None = None
    total_memory_bytes: Bytes | None = None  # "total memory: N" (vllm-ascend up to v0.14)
    total_memory_gib: Annotated[float, Rule(gt=0)] | None = None  # "Free memory on device (free/TOTAL GiB)"
    tp: Count = 1
    pp: Count = 1
    dp: Count = 1
    expert_parallel: bool = False
    gpu_memory_utilization: Annotated[float, Rule(gt=0, le=1)] | None = None  # None: the image's default
    max_model_len: Count | None = None
    image: str | None = None  # the images.yaml tag planned with
    version_evidence: str | None = None
    kv_cache_tokens: Count | None = None  # "GPU KV cache size: N tokens"
    available_memory_bytes: Items[Bytes] = ()  # "Available memory: N" of the ranks shown
    available_kv_cache_gib: float | None = None  # "Available KV cache memory: X GiB" / "Current KV cache memory"
    weights_gib: Annotated[float, Rule(gt=0)] | None = None  # "Loading model weights took X GB" (GiB)
    notes: str = ""

    def _check(self) -> None:
        if self.role == "unused":
            if not self.unused_because:
                raise ValueError("an unused observation says why in unused_because")
            return
        if self.unused_because is not None:
            raise ValueError("unused_because is only for role: unused")
        missing = [
            name
            for name in ("model", "model_evidence", "npu_type", "hardware_evidence", "image", "version_evidence")
            if getattr(self, name) is None
        ]
        if self.kv_cache_tokens is None and self.available_kv_cache_gib is None:
            missing.append("kv_cache_tokens or available_kv_cache_gib")
        if missing:
            raise ValueError(f"a scored observation needs {', '.join(missing)}")


@dataclass(frozen=True, kw_only=True)
class ObservationFile(Record):
    observations: Annotated[Items[Observation], Rule(min_length=1)]

    def _check(self) -> None:
        ids = [o.id for o in self.observations]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"observation ids must be unique: {', '.join(repeated)}")


def load_observations(path: Path = OBSERVATIONS) -> tuple[Observation, ...]:
    """The observations, validated; a ValueError names the first problem."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        return validate(ObservationFile, data).observations
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from None
    except RecordError as exc:
        error = exc.errors()[0]
        where = ".".join(str(part) for part in error["loc"])
        raise ValueError(f"{path}: {where}: {error['msg']}") from None


@dataclass(frozen=True)
class Result:
    observation: Observation
    model: ModelSpec
    platform: str
    image: ImageSpec
    utilization: float
    observed: int
    predicted: int

    @property
    def error_percent(self) -> float:
        """Planned minus logged KV cache tokens, in percent of the logged: above zero is an over-estimate."""
        return (self.predicted - self.observed) / self.observed * 100


def model_of(observation: Observation, catalog: Catalog) -> ModelSpec:
    """The model as deployed: the catalog's entry or the inline one, in the served dtype, with expert parallel as
    the deployment had it."""
    assert observation.model is not None
    found = observation.model if isinstance(observation.model, ModelSpec) else catalog.get(observation.model)
    update: dict[str, object] = {}
    if observation.dtype is not None:
        update["dtype"] = observation.dtype
    if observation.expert_parallel and EP_FLAG not in found.serve_flags:
        update["serve_flags"] = (*found.serve_flags, EP_FLAG)
    return replace(found, **update)


def observed_tokens(observation: Observation, model: ModelSpec) -> int:
    """The KV cache tokens vLLM keeps: the smallest of the printed size and the sizes the ranks' memory gives (vLLM
    sizes every rank alike, by the smallest), the memory converted with the model's KV bytes per token in whole
    blocks, as vLLM does."""
    per_block = kv_bytes_per_token(model, observation.tp, observation.pp) * BLOCK_TOKENS
    sizes = [int(b) // per_block * BLOCK_TOKENS for b in observation.available_memory_bytes]
    if observation.kv_cache_tokens is not None:
        sizes.append(observation.kv_cache_tokens)
    elif observation.available_kv_cache_gib is not None:
        sizes.append(int(observation.available_kv_cache_gib * GIB) // per_block * BLOCK_TOKENS)
    return min(sizes)


def _plan(
    observation: Observation, catalog: Catalog, hardware: Hardware, images: tuple[ImageSpec, ...]
) -> tuple[ModelSpec, Plan]:
    """Plan the observed deployment as `ascendgen plan` would."""
    assert observation.npu_type is not None and observation.image is not None
    model = model_of(observation, catalog)
    server = resolve_server(hardware, None, observation.npu_type)
    npu = hardware.npu_type(server.npu_type)
    platform = hardware.platform(npu.platform)
    image = choose_image(images, requested=observation.image, min_tag=None, suffix=platform.image_suffix)
    options = PlanOptions(
        tp=observation.tp,
        pp=observation.pp,
        gpu_memory_utilization=observation.gpu_memory_utilization,
        expert_parallel=None if observation.expert_parallel else False,
    )
    return model, plan_deployment(model, npu=npu, platform=platform, server=server, image=image, options=options)


def plan_observation(
    observation: Observation, catalog: Catalog, hardware: Hardware, images: tuple[ImageSpec, ...]
) -> Result:
    """The planned KV cache tokens beside the logged ones."""
    model, plan = _plan(observation, catalog, hardware, images)
    return Result(
        observation=observation,
        model=model,
        platform=plan.platform.name,
        image=plan.image.spec,
        utilization=plan.gpu_memory_utilization,
        observed=observed_tokens(observation, model),
        predicted=plan.kv_cache_tokens,
    )


@dataclass(frozen=True)
class MemoryCheck:
    """An unused observation the planner can still plan: the KV cache memory per NPU, planned and logged (for
    information; tokens are not comparable there, or the deployment is not one the planner plans)."""

    observation: Observation
    planned_gib: float
    logged_gib: float

    @property
    def error_percent(self) -> float:
        return (self.planned_gib - self.logged_gib) / self.logged_gib * 100


def memory_check(
    observation: Observation, catalog: Catalog, hardware: Hardware, images: tuple[ImageSpec, ...]
) -> MemoryCheck | None:
    if None in (observation.model, observation.npu_type, observation.image):
        return None
    logged = [b / GIB for b in observation.available_memory_bytes]
    if observation.available_kv_cache_gib is not None:
        logged.append(observation.available_kv_cache_gib)
    if not logged:
        return None
    try:
        _, plan = _plan(observation, catalog, hardware, images)
    except AscendgenError:
        return None
    return MemoryCheck(observation=observation, planned_gib=plan.memory.kv_cache_gib, logged_gib=min(logged))


@dataclass(frozen=True)
class Summary:
    count: int
    median_abs_percent: float
    worst_over_percent: float
    worst_under_percent: float


def summarize(results: Sequence[Result]) -> Summary:
    errors = [r.error_percent for r in results]
    return Summary(
        count=len(errors),
        median_abs_percent=statistics.median(abs(e) for e in errors),
        worst_over_percent=max(errors),
        worst_under_percent=min(errors),
    )


def _row(result: Result, markdown: bool) -> str:
    o = result.observation
    layout = f"{o.tp}" + (f" x PP {o.pp}" if o.pp > 1 else "")
    cells = [
        o.id,
        o.role,
        result.model.name,
        f"{o.npu_type}",
        layout,
        result.image.tag,
        f"{result.utilization:g}",
        f"{result.observed:,}",
        f"{result.predicted:,}",
        f"{result.error_percent:+.2f}",
    ]
    if markdown:
        return "| " + " | ".join(cells) + " |"
    widths = (36, 5, 22, 6, 9, 11, 5, 11, 11, 7)
    return "  ".join(c.ljust(w) if i < 7 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))


def _header(markdown: bool) -> list[str]:
    names = ["observation", "role", "model", "NPU", "TP", "image", "util", "logged", "planned", "error %"]
    if markdown:
        return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    widths = (36, 5, 22, 6, 9, 11, 5, 11, 11, 7)
    return ["  ".join(n.ljust(w) if i < 7 else n.rjust(w) for i, (n, w) in enumerate(zip(names, widths, strict=True)))]


def _summary_line(label: str, s: Summary) -> str:
    return (
        f"{label}: {s.count} observations, median |error| {s.median_abs_percent:.2f}%, "
        f"worst over-estimate {s.worst_over_percent:+.2f}%, worst under-estimate {s.worst_under_percent:+.2f}%"
    )


def margin_problems(results: Sequence[Result], hardware: Hardware) -> list[str]:
    """A KV cache margin (hardware.yaml) must record the worst over-estimate measured on the platforms that share it
    (a2 and a3 share one), to 0.1%, and cover it."""
    problems = []
    margins = {platform.name: platform.kv_cache_margin for platform in hardware.platforms}
    for margin in dict.fromkeys(margins.values()):
        names = sorted(name for name, m in margins.items() if m == margin)
        errors = [r.error_percent for r in results if r.platform in names]
        if not errors:
            continue
        worst = round(max(errors), 1)
        where = f"hardware.yaml kv_cache_margin of {'/'.join(names)}"
        if margin.worst_overestimate_percent != worst:
            problems.append(
                f"{where}: worst_overestimate_percent is {margin.worst_overestimate_percent:g}, the observations give "
                f"{worst:g}"
            )
        if margin.percent < worst:
            problems.append(f"{where}: percent {margin.percent:g} does not cover the worst over-estimate {worst:g}")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observations", type=Path, default=OBSERVATIONS)
    parser.add_argument("--markdown", action="store_true", help="print the tables as Markdown (for bench/README.md)")
    args = parser.parse_args(argv)
    try:
        observations = load_observations(args.observations)
        catalog, hardware, images = load_catalog(), load_hardware(), load_images()
        scored = [plan_observation(o, catalog, hardware, images) for o in observations if o.role != "unused"]
    except (ValueError, AscendgenError) as exc:
        print(f"accuracy: {exc}", file=sys.stderr)
        return 2

    print(*_header(args.markdown), sep="\n")
    for result in sorted(scored, key=lambda r: (r.platform, tag_key(r.image.tag), r.observation.id)):
        print(_row(result, args.markdown))
    unused = [o for o in observations if o.role == "unused"]
    checks = [c for o in unused if (c := memory_check(o, catalog, hardware, images)) is not None]
    print(f"\nnot scored: {len(unused)} observations (bench/observations.yaml says why each); KV cache memory per NPU")
    print("of those the planner can plan, for information:")
    for check in checks:
        o = check.observation
        print(
            f"  {o.id}: logged {check.logged_gib:.2f} GiB, planned {check.planned_gib:.2f} GiB "
            f"({check.error_percent:+.1f}%): {o.unused_because}"
        )

    overall = summarize(scored)
    test = summarize([r for r in scored if r.observation.role == "test"])
    fit = summarize([r for r in scored if r.observation.role == "fit"])
    print()
    print(_summary_line("all scored", overall))
    print(_summary_line("fit (chose the reserves)", fit))
    print(_summary_line("test (held out)", test))
    for platform in sorted({r.platform for r in scored}):
        print(_summary_line(f"platform {platform}", summarize([r for r in scored if r.platform == platform])))

    failures = []
    if overall.median_abs_percent > GOAL_MEDIAN_ERROR_PERCENT:
        failures.append(f"median |error| {overall.median_abs_percent:.2f}% > {GOAL_MEDIAN_ERROR_PERCENT:g}%")
    if overall.worst_over_percent > GOAL_WORST_OVERESTIMATE_PERCENT:
        failures.append(f"worst over-estimate {overall.worst_over_percent:.2f}% > {GOAL_WORST_OVERESTIMATE_PERCENT:g}%")
    failures += margin_problems(scored, hardware)
    for failure in failures:
        print(f"goal not met: {failure}", file=sys.stderr)
    if not failures:
        print(
            f"\ngoals met: median |error| <= {GOAL_MEDIAN_ERROR_PERCENT:g}%, no over-estimate above "
            f"{GOAL_WORST_OVERESTIMATE_PERCENT:g}%, margins cover the worst over-estimate"
        )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
