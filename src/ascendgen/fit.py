"""What fits on a server: every catalog model planned as `ascendgen plan MODEL` plans it alone there (the planner's
TP and max-model-len, the default image), or, when it does not fit, the NPUs and servers it needs (as the planner's
refusal counts them). fit_models is pure; fit_catalog gathers its inputs (catalog, hardware, this host's NPUs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ascendgen.catalog import ModelSpec
from ascendgen.errors import InputError, PlanError
from ascendgen.hardware import DEFAULT_SERVER, NpuType, Platform, ServerProfile
from ascendgen.images import ImageSpec, choose_image
from ascendgen.planner import (
    MAX_PLANNED_TP,
    PlanOptions,
    Sizing,
    _servers_needed,  # the planner's count of servers for its refusal message
    plan_deployment,
    valid_tp_sizes,
)

Fits = Literal["yes", "shorter-context", "no"]


@dataclass(frozen=True)
class ModelFit:
    """One model on one server. `npus`: the NPUs it runs on, or (fits "no") the fewest it needs, None when no
    count up to MAX_PLANNED_TP holds it; `servers`: servers like this one those NPUs take (fits "no")."""

    model: ModelSpec
    fits: Fits
    summary: str  # "runs", "runs with shorter context (N tokens)", "does not fit (needs N NPUs)", or why not
    npus: int | None = None
    servers: int | None = None
    max_model_len: int | None = None
    max_concurrency: float | None = None  # full-length requests whose KV cache fits at once
    full_context_npus: int | None = None  # fits "shorter-context": the NPUs of this server that hold the full context
    image: str | None = None
    beyond_planned: bool = False  # fits "no": no count of NPUs up to MAX_PLANNED_TP holds it

    @property
    def needs(self) -> str | None:
        """The NPUs a model that does not fit needs, short: '32', '>64'; None when memory is not why it does not fit."""
        if self.beyond_planned:
            return f">{MAX_PLANNED_TP}"
        return None if self.fits != "no" or self.npus is None else str(self.npus)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.model.name,
            "fits": self.fits,
            "npus": self.npus,
            "servers": self.servers,
            "max_model_len": self.max_model_len,
            "max_concurrency": self.max_concurrency,
            "context": self.model.max_position_embeddings,
            "full_context_npus": self.full_context_npus,
            "image": self.image,
            "summary": self.summary,
        }


def fit_models(
    models: Iterable[ModelSpec],
    *,
    npu: NpuType,
    platform: Platform,
    server: ServerProfile,
    images: tuple[ImageSpec, ...],
) -> list[ModelFit]:
    return [fit_model(model, npu=npu, platform=platform, server=server, images=images) for model in models]


def fit_model(
    model: ModelSpec, *, npu: NpuType, platform: Platform, server: ServerProfile, images: tuple[ImageSpec, ...]
) -> ModelFit:
    try:
        image = choose_image(
            images, requested=None, min_tag=model.min_image, suffix=platform.image_suffix, npu=npu.name
        )
    except InputError as exc:
        return ModelFit(model, "no", str(exc))
    try:
        plan = plan_deployment(model, npu=npu, platform=platform, server=server, image=image, options=PlanOptions())
    except PlanError as exc:
        sizing = Sizing(model, npu, platform, image.spec.gpu_memory_utilization_default, image.spec.tag)
        needed = sizing.npus_needed()
        if needed is None:
            summary = f"does not fit (needs more than {MAX_PLANNED_TP} NPUs)"
            return ModelFit(model, "no", summary, image=image.reference, beyond_planned=True)
        if needed <= server.npu_count:  # the memory would do: refused for another reason
            return ModelFit(model, "no", str(exc), image=image.reference)
        servers = _servers_needed(sizing, server)
        across = f" = {servers} x {server.name}" if servers is not None else ""
        summary = f"does not fit (needs {needed} NPUs{across})"
        return ModelFit(model, "no", summary, npus=needed, servers=servers, image=image.reference)
    context, tp = model.max_position_embeddings, plan.tensor_parallel_size
    fits: Fits = "yes" if plan.max_model_len >= context else "shorter-context"
    summary, more = "runs", None
    if fits == "shorter-context":
        sizing = Sizing(model, npu, platform, plan.gpu_memory_utilization, image.spec.tag)
        larger = (t for t in valid_tp_sizes(model, server.npu_count) if t > tp)
        more = next((t for t in larger if sizing.capacity(t) >= context), None)
        full = f"; full context on {more} NPUs" if more is not None else ""
        summary = f"runs with shorter context ({plan.max_model_len:,} tokens{full})"
    return ModelFit(
        model,
        fits,
        summary,
        npus=tp,
        max_model_len=plan.max_model_len,
        max_concurrency=plan.max_concurrency,
        full_context_npus=more,
        image=image.reference,
    )


def fit_catalog(
    *,
    catalogs: Iterable[Path] = (),
    hardware_files: Iterable[Path] = (),
    server: str | None = None,
    npu_type: str | None = None,
) -> tuple[ServerProfile, list[ModelFit], str | None]:
    """Every catalog model on `server` / `npu_type`; with neither, on this machine's NPUs as npu-smi lists them,
    else on the default server. Returns the server, the fits, and why this machine's NPUs were not used (if so)."""
    from ascendgen.catalog import load_catalog
    from ascendgen.hardware import load_hardware
    from ascendgen.hostnpus import host_server, read_host_npus
    from ascendgen.images import load_images
    from ascendgen.plans import resolve_server

    catalog = load_catalog(catalogs)
    hardware = load_hardware(hardware_files)
    note = None
    if server is not None or npu_type is not None:
        profile = resolve_server(hardware, server, npu_type)
    else:
        host, why = read_host_npus(hardware)
        if host is None:
            profile = hardware.server(DEFAULT_SERVER)
            note = f"{why}: showing the default server {profile.name}; choose one with --server or --npu-type"
        else:
            profile = host_server(hardware, host)
    npu = hardware.npu_type(profile.npu_type)
    platform = hardware.platform(npu.platform)
    fits = fit_models(catalog.models, npu=npu, platform=platform, server=profile, images=load_images())
    return profile, fits, note
