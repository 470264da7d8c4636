"""Ascend hardware as data: NPU types and their memory, platforms (devices and driver mounts a container
needs, memory reserves) and server profiles. Loaded from hardware.yaml, with `--hardware FILE` over it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Literal, TypeVar

from ascendgen.datafiles import data_file
from ascendgen.errors import InputError
from ascendgen.images import tag_key
from ascendgen.prevalidated import builtin
from ascendgen.records import NonNegativeFloat, PositiveFloat, PositiveInt, Record, Rule
from ascendgen.yamlfile import Items, did_you_mean, load_merged_sections

_ABSOLUTE = r"^/[^\n:]*$"


@dataclass(frozen=True, kw_only=True)
class NpuType(Record):
    name: Annotated[str, Rule(min_length=1)]
    memory_gib: PositiveFloat  # HBM as npu-smi reports it
    visible_gib: PositiveFloat  # the total torch_npu sees, which vLLM's gpu_memory_utilization applies to
    platform: str
    description: str = ""

    def _check(self) -> None:
        if self.visible_gib > self.memory_gib:
            raise ValueError("visible_gib cannot exceed memory_gib")


@dataclass(frozen=True, kw_only=True)
class MemoryReserves(Record):
    """What a vLLM worker takes on each NPU besides the weights and the KV cache, as the worker of the images from
    `since` on measures it: the peak activation of the profiling run, and non-torch memory (the CANN runtime, and an
    HCCL buffer for each process group the rank joins)."""

    since: Annotated[str, Rule(pattern=r"^v\d+\.\d+\.\d+")]  # the first vllm-ascend image tag these apply to
    activation_gib: NonNegativeFloat
    vision_extra_gib: NonNegativeFloat = 0.0  # more activation when a vision encoder is profiled too
    moe_extra_gib: NonNegativeFloat = 0.0  # more a mixture-of-experts model's profiling run takes (kind: moe)
    runtime_gib: NonNegativeFloat
    hccl_gib: NonNegativeFloat  # per HCCL process group


@dataclass(frozen=True, kw_only=True)
class KvCacheMargin(Record):
    """The KV cache kept back when the plan sets max-model-len from the KV capacity: the planner's prediction can be
    above what vLLM measures at start-up, and a max-model-len above the real capacity does not start."""

    percent: Annotated[float, Rule(ge=0, le=50)]
    # the largest over-estimate of KV cache tokens the accuracy bench (bench/accuracy.py) found in the published logs
    # of this platform; at or below `percent`, which the bench checks
    worst_overestimate_percent: Annotated[float, Rule(ge=-100, le=50)]
    source: Annotated[str, Rule(min_length=1)]

    def _check(self) -> None:
        if self.worst_overestimate_percent > self.percent:
            raise ValueError("percent must cover worst_overestimate_percent")


@dataclass(frozen=True, kw_only=True)
class Platform(Record):
    name: str
    image_suffix: Annotated[str, Rule(pattern=r"^(-[a-z0-9][a-z0-9.-]*)?$")] = ""
    dtypes: Items[Literal["bfloat16", "float16"]]
    # A checkpoint in a dtype outside `dtypes` is served in this one (`vllm serve --dtype`; vLLM casts the weights as
    # it loads them). None: such a checkpoint is refused.
    serve_dtype: Literal["bfloat16", "float16"] | None = None
    # False: the platform's vllm-ascend worker ignores --kv-cache-memory-bytes, whatever the image's vLLM accepts.
    honours_kv_cache_memory_bytes: bool = True
    control_devices: Items[str]
    npu_device: Annotated[str, Rule(pattern=r"^/.*\{index\}")]
    driver_mounts: Items[str]
    multinode_mounts: Items[str] = ()
    kv_budget_factor: Annotated[float, Rule(gt=0, le=1)]
    kv_budget_factor_since: str | None = None  # the first image tag that applies kv_budget_factor
    # by image version, oldest first: an image takes the last entry whose `since` is at or below its tag (the first
    # entry for older tags)
    memory_reserves: Annotated[Items[MemoryReserves], Rule(min_length=1)]
    kv_cache_margin: KvCacheMargin
    drop_env: Items[str] = ()
    dies_per_npu: PositiveInt = 1

    def reserves_for(self, image_tag: str) -> MemoryReserves:
        """The memory reserves the worker of image `image_tag` (a vllm-ascend tag such as v0.11.0) leaves out."""
        key = tag_key(image_tag)
        applicable = [r for r in self.memory_reserves if tag_key(r.since) <= key]
        return applicable[-1] if applicable else self.memory_reserves[0]

    def _check(self) -> None:
        self._reserves_in_order()
        self._serve_dtype_runs()
        self._absolute_paths()

    def _reserves_in_order(self) -> None:
        keys = [tag_key(r.since) for r in self.memory_reserves]
        if any(a >= b for a, b in pairwise(keys)):
            raise ValueError("memory_reserves must be ordered by 'since', oldest first, each tag once")

    def _serve_dtype_runs(self) -> None:
        if self.serve_dtype is not None and self.serve_dtype not in self.dtypes:
            raise ValueError(f"serve_dtype {self.serve_dtype} must be one of the platform's dtypes")

    def _absolute_paths(self) -> None:
        for path in (*self.control_devices, *self.driver_mounts, *self.multinode_mounts):
            if not path.startswith("/") or ":" in path or "\n" in path:
                raise ValueError(f"path {path!r} must be absolute, without ':' or newlines")


@dataclass(frozen=True, kw_only=True)
class ServerProfile(Record):
    name: str
    description: str = ""
    npu_type: str
    npu_count: PositiveInt
    groups: Items[Items[int]] = ()
    # Where the host's / is, seen from where compose runs: "/" on a real server. A profile may point it
    # elsewhere (e.g. a host filesystem mounted at /host) and the device and driver paths follow.
    host_root: Annotated[str, Rule(pattern=_ABSOLUTE)] = "/"

    def host_path(self, path: str) -> str:
        """Where the host's `path` is, seen from where compose runs (under host_root)."""
        return self.host_root.rstrip("/") + path

    def mount(self, path: str, *, suffix: str = "") -> str:
        """A compose device/volume entry that puts the host's `path` at the same path in the container."""
        host = self.host_path(path)
        return f"{host}:{path}{suffix}" if (host != path or suffix) else path

    def _check(self) -> None:
        for group in self.groups:
            for index in group:
                if not 0 <= index < self.npu_count:
                    raise ValueError(f"group NPU {index} is outside 0-{self.npu_count - 1}")


def npu_mounts(
    server: ServerProfile, platform: Platform, npus: tuple[int, ...], *, multinode: bool = False
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The compose `devices` (control devices, then one davinciN per NPU) and the read-only driver
    `volumes` a container needs to use these NPUs; `multinode` adds what HCCL over RoCE needs."""
    npu_devices = [platform.npu_device.format(index=i) for i in npus]
    devices = tuple(server.mount(d) for d in (*platform.control_devices, *npu_devices))
    driver_paths = (*platform.driver_mounts, *(platform.multinode_mounts if multinode else ()))
    # read-only: the container has no reason to write to the host's driver (the seeds mount it read-write)
    return devices, tuple(server.mount(m, suffix=":ro") for m in driver_paths)


@dataclass(frozen=True)
class Hardware:
    npu_types: tuple[NpuType, ...]
    platforms: tuple[Platform, ...]
    servers: tuple[ServerProfile, ...]

    def npu_type(self, name: str) -> NpuType:
        return _find(self.npu_types, name, "NPU type")

    def platform(self, name: str) -> Platform:
        return _find(self.platforms, name, "platform")

    def server(self, name: str) -> ServerProfile:
        return _find(self.servers, name, "server profile")


DEFAULT_SERVER = "atlas-800i-a2"

T = TypeVar("T", NpuType, Platform, ServerProfile)


def _find(items: tuple[T, ...], name: str, what: str) -> T:
    for item in items:
        if item.name.lower() == name.lower():
            return item
    names = [item.name for item in items]
    raise InputError(f"unknown {what} '{name}'{did_you_mean(name, names)}; known: {', '.join(names)}")


def load_hardware(extra: Iterable[Path] = ()) -> Hardware:
    paths = (data_file("hardware.yaml"), *extra)
    if len(paths) == 1:
        npu_types = builtin("hardware.yaml", "npu_types")
        platforms = builtin("hardware.yaml", "platforms")
        servers = builtin("hardware.yaml", "servers")
        if npu_types is not None and platforms is not None and servers is not None:
            return Hardware(npu_types=npu_types, platforms=platforms, servers=servers)
    loaded = load_merged_sections(
        paths,
        {"npu_types": NpuType, "platforms": Platform, "servers": ServerProfile},
        singular={"npu_types": "NPU type", "platforms": "platform", "servers": "server profile"},
    )
    hardware = Hardware(
        npu_types=tuple(loaded["npu_types"]),
        platforms=tuple(loaded["platforms"]),
        servers=tuple(loaded["servers"]),
    )
    for npu in hardware.npu_types:
        hardware.platform(npu.platform)
    for server in hardware.servers:
        hardware.npu_type(server.npu_type)
    return hardware
