"""The user's own measurements: what vLLM's startup log said, next to what the plan said, one JSON line per
start in $XDG_CACHE_HOME/ascendgen/observations.jsonl (~/.cache/ascendgen without XDG_CACHE_HOME;
ASCENDGEN_CACHE_DIR names another directory, which tests use so that they never touch the real home). And
the arithmetic `ascendgen calibrate` shows: per NPU type and image, how far vLLM's KV cache was from the
plan's, and which reserve would have matched.

The planner's memory per NPU (planner.py MemoryPerNpu): usable = visible HBM x gpu-memory-utilization, and
KV cache = (usable - weights - reserve) x kv_budget_factor, where reserve is the activation peak plus the
runtime/HCCL memory. So the reserve that gives vLLM's KV cache is usable - weights - measured KV / factor,
with vLLM's own weights and total memory where its log gives them."""

from __future__ import annotations

import contextlib
import json
import os
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ascendgen.composeconfig import ServiceConfig
from ascendgen.render import LABEL_PREFIX
from ascendgen.vllmlog import GiB, StartupNumbers, difference_percent

ENV_CACHE_DIR = "ASCENDGEN_CACHE_DIR"
OBSERVATIONS_FILE = "observations.jsonl"
MAX_READ_BYTES = 8 * 2**20  # the newest 8 MiB (about 20,000 starts) is all calibrate reads

Outcome = Literal["started", "kv_cache_too_small"]


def cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    """ASCENDGEN_CACHE_DIR, else $XDG_CACHE_HOME/ascendgen, else ~/.cache/ascendgen. The XDG Base Directory
    specification ignores a relative XDG_CACHE_HOME; so does this."""
    env = os.environ if environ is None else environ
    if env.get(ENV_CACHE_DIR):
        return Path(env[ENV_CACHE_DIR])
    xdg = env.get("XDG_CACHE_HOME", "")
    if xdg and os.path.isabs(xdg):
        return Path(xdg) / "ascendgen"
    return Path.home() / ".cache" / "ascendgen"


def observations_path() -> Path:
    return cache_dir() / OBSERVATIONS_FILE


@dataclass(frozen=True)
class PlannedMemory:
    """The plan's numbers per NPU, as compose.yml's labels record them (render.memory_label)."""

    npu_type: str | None
    kv_cache_tokens: int
    gpu_memory_utilization: float | None = None
    usable_gib: float | None = None
    weights_gib: float | None = None
    reserve_gib: float | None = None
    kv_budget_factor: float = 1.0
    kv_cache_gib: float | None = None
    kv_bytes_per_token: int | None = None


def planned_memory(labels: Mapping[str, str], prefix: str = LABEL_PREFIX) -> PlannedMemory | None:
    """The plan's memory numbers from a service's labels; None for a compose file written before ascendgen
    recorded them (or by hand)."""
    tokens = labels.get(f"{prefix}.kv-cache-tokens", "")
    if not tokens.isdigit():
        return None
    numbers: dict[str, float] = {}
    for item in labels.get(f"{prefix}.memory-per-npu", "").split(","):
        key, _, value = item.partition("=")
        with contextlib.suppress(ValueError):
            numbers[key.strip()] = float(value)
    bytes_per_token = numbers.get("kv_bytes_per_token")
    return PlannedMemory(
        npu_type=labels.get(f"{prefix}.npu-type"),
        kv_cache_tokens=int(tokens),
        gpu_memory_utilization=numbers.get("gpu_memory_utilization"),
        usable_gib=numbers.get("usable_gib"),
        weights_gib=numbers.get("weights_gib"),
        reserve_gib=numbers.get("reserve_gib"),
        kv_budget_factor=numbers.get("kv_budget_factor", 1.0) or 1.0,
        kv_cache_gib=numbers.get("kv_cache_gib"),
        kv_bytes_per_token=int(bytes_per_token) if bytes_per_token else None,
    )


@dataclass(frozen=True)
class Observation:
    """One start of one service: what the plan said and what vLLM measured."""

    recorded_at: str  # UTC, ISO 8601
    deployment: str  # the compose project's directory
    service: str
    container_id: str
    started_at: str | None
    outcome: Outcome
    model: str | None
    npu_type: str | None
    tensor_parallel_size: int | None
    pipeline_parallel_size: int
    gpu_memory_utilization: float | None
    image: str
    vllm_version: str | None
    max_model_len: int | None
    planned: PlannedMemory
    measured: StartupNumbers

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Observation:
        fields = dict(data)
        fields["planned"] = PlannedMemory(**fields["planned"])
        fields["measured"] = StartupNumbers(**fields["measured"])
        return cls(**fields)

    @property
    def key(self) -> tuple[str, str | None, str]:
        return (self.container_id, self.started_at, self.outcome)

    @property
    def difference_percent(self) -> float | None:
        measured = self.measured.kv_cache_tokens
        return None if measured is None else difference_percent(self.planned.kv_cache_tokens, measured)

    @property
    def measured_kv_cache_gib(self) -> float | None:
        """The KV cache vLLM allocated per NPU, from its tokens (whole blocks, as the plan's)."""
        tokens, per_token = self.measured.kv_cache_tokens, self.planned.kv_bytes_per_token
        return None if tokens is None or not per_token else tokens * per_token / GiB

    @property
    def matched_reserve_gib(self) -> float | None:
        """The activation + runtime reserve with which the plan's formula gives vLLM's KV cache."""
        p, m = self.planned, self.measured
        kv = self.measured_kv_cache_gib
        usable = p.usable_gib
        if m.total_memory_gib is not None and p.gpu_memory_utilization is not None:
            usable = m.total_memory_gib * p.gpu_memory_utilization
        weights = m.weights_gib if m.weights_gib is not None else p.weights_gib
        if kv is None or usable is None or weights is None:
            return None
        return usable - weights - kv / p.kv_budget_factor


def observe(
    service: ServiceConfig,
    planned: PlannedMemory,
    measured: StartupNumbers,
    *,
    deployment: Path,
    container_id: str,
    started_at: datetime | None,
    outcome: Outcome = "started",
) -> Observation:
    """One start of `service` as the observations file keeps it."""
    util = planned.gpu_memory_utilization
    if util is None:
        flag = service.serve_flag("--gpu-memory-utilization")
        util = _float(flag)
    tp = service.labels.get(f"{LABEL_PREFIX}.tensor-parallel-size") or service.serve_flag("--tensor-parallel-size")
    pp = service.serve_flag("--pipeline-parallel-size")
    max_len = service.serve_flag("--max-model-len")
    return Observation(
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        deployment=str(deployment),
        service=service.name,
        container_id=container_id,
        started_at=started_at.isoformat() if started_at else None,
        outcome=outcome,
        model=service.catalog_name or service.model_path,
        npu_type=planned.npu_type,
        tensor_parallel_size=int(tp) if tp and tp.isdigit() else None,
        pipeline_parallel_size=int(pp) if pp and pp.isdigit() else 1,
        gpu_memory_utilization=util,
        image=service.image,
        vllm_version=measured.vllm_version,
        max_model_len=int(max_len) if max_len and max_len.isdigit() else None,
        planned=planned,
        measured=measured,
    )


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def record(observation: Observation, path: Path | None = None) -> bool:
    """Append the observation unless the same start is recorded already; False when it was. Raises OSError
    when the cache cannot be written (the caller warns; a start never fails for it)."""
    target = path or observations_path()
    if any(seen.key == observation.key for seen in load_observations(target)[0]):
        return False
    target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    line = json.dumps(observation.to_json(), ensure_ascii=False, sort_keys=True) + "\n"
    with target.open("a", encoding="utf-8") as handle:  # one write of one line: concurrent ups do not interleave
        handle.write(line)
    return True


def load_observations(path: Path | None = None) -> tuple[list[Observation], int]:
    """The recorded observations (the newest MAX_READ_BYTES of the file), and how many lines could not be read."""
    target = path or observations_path()
    try:
        with target.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            handle.seek(max(0, size - MAX_READ_BYTES))
            data = handle.read()
    except FileNotFoundError:
        return [], 0
    lines = data.decode("utf-8", errors="replace").splitlines()
    if len(data) < size and lines:
        lines = lines[1:]  # the first line was cut
    found: list[Observation] = []
    broken = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            found.append(Observation.from_json(json.loads(line)))
        except (ValueError, TypeError, KeyError):
            broken += 1
    return found, broken


@dataclass(frozen=True)
class CalibrationRow:
    """The medians of one NPU type and image over the user's observations."""

    npu_type: str
    image: str
    count: int
    models: tuple[str, ...]
    planned_tokens: int
    measured_tokens: int
    difference_percent: float | None
    planned_weights_gib: float | None
    measured_weights_gib: float | None
    planned_reserve_gib: float | None
    matched_reserve_gib: float | None

    def to_json(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}


def calibrate(observations: Iterable[Observation]) -> list[CalibrationRow]:
    """Per (NPU type, image), over the observations where vLLM logged its KV cache size: the medians of the
    planned and measured tokens, of their difference, of the weights, and of the planned and matching reserve."""
    groups: dict[tuple[str, str], list[Observation]] = {}
    for item in observations:
        if item.measured.kv_cache_tokens is not None:
            groups.setdefault((item.npu_type or "unknown", item.image), []).append(item)
    rows = []
    for (npu_type, image), items in sorted(groups.items()):
        rows.append(
            CalibrationRow(
                npu_type=npu_type,
                image=image,
                count=len(items),
                models=tuple(sorted({i.model or i.service for i in items})),
                planned_tokens=round(statistics.median(i.planned.kv_cache_tokens for i in items)),
                measured_tokens=round(statistics.median(i.measured.kv_cache_tokens or 0 for i in items)),
                difference_percent=_median([i.difference_percent for i in items], 1),
                planned_weights_gib=_median([i.planned.weights_gib for i in items]),
                measured_weights_gib=_median([i.measured.weights_gib for i in items]),
                planned_reserve_gib=_median([i.planned.reserve_gib for i in items]),
                matched_reserve_gib=_median([i.matched_reserve_gib for i in items]),
            )
        )
    return rows


def _median(values: Iterable[float | None], digits: int = 2) -> float | None:
    known = [v for v in values if v is not None]
    return round(statistics.median(known), digits) if known else None
