"""What the CLI does, as plain functions: the CLI only packs flags into a PlanRequest and prints results.
Everything here returns data; nothing prints."""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from pathlib import Path

from ascendgen.catalog import Catalog, load_catalog
from ascendgen.errors import InputError
from ascendgen.hardware import DEFAULT_SERVER, Hardware, ServerProfile, load_hardware
from ascendgen.images import choose_image, load_images
from ascendgen.npuset import format_npus
from ascendgen.planner import DEFAULT_PORT, Plan, PlanOptions, plan_deployment
from ascendgen.render import COMPOSE_FILE, render_compose, write_atomically


@dataclass(frozen=True)
class PlanRequest:
    """Everything a user chose for one deployment: the recipe a compose file is regenerated from."""

    model: str
    server: str | None = None
    npu_type: str | None = None
    tp: int | None = None
    npus: tuple[int, ...] | None = None
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    port: int = DEFAULT_PORT
    image: str | None = None
    models_dir: str = "/models"
    catalogs: tuple[str, ...] = ()
    hardware_files: tuple[str, ...] = ()

    def command(self) -> str:
        """The canonical `ascendgen plan ...` line that reproduces this request (fixed option order)."""
        args = ["ascendgen", "plan", self.model]
        options: list[tuple[str, object]] = [
            ("--server", self.server),
            ("--npu-type", self.npu_type),
            ("--tp", self.tp),
            ("--npus", format_npus(self.npus) if self.npus else None),
            ("--gpu-memory-utilization", self.gpu_memory_utilization),
            ("--max-model-len", self.max_model_len),
            ("--port", self.port if self.port != DEFAULT_PORT else None),
            ("--image", self.image),
            ("--models-dir", self.models_dir if self.models_dir != "/models" else None),
        ]
        options += [("--catalog", path) for path in self.catalogs]
        options += [("--hardware", path) for path in self.hardware_files]
        for flag, value in options:
            if value is not None:
                args += [flag, str(value)]
        return shlex.join(args)


def load_catalog_for(request: PlanRequest) -> Catalog:
    return load_catalog(Path(p) for p in request.catalogs)


def resolve_server(hardware: Hardware, server: str | None, npu_type: str | None) -> ServerProfile:
    """The server profile to plan for: `--server`, else the first profile with `--npu-type`'s NPUs, else the
    default profile with its NPUs replaced by `--npu-type`."""
    if server is not None:
        profile = hardware.server(server)
        if npu_type is not None:
            profile = profile.model_copy(update={"npu_type": hardware.npu_type(npu_type).name})
        return profile
    if npu_type is None:
        return hardware.server(DEFAULT_SERVER)
    wanted = hardware.npu_type(npu_type).name
    for profile in hardware.servers:
        if profile.npu_type == wanted:
            return profile
    return hardware.server(DEFAULT_SERVER).model_copy(update={"npu_type": wanted})


def make_plan(request: PlanRequest) -> Plan:
    _check_models_dir(request.models_dir)
    catalog = load_catalog_for(request)
    model = catalog.get(request.model)
    hardware = load_hardware(Path(p) for p in request.hardware_files)
    server = resolve_server(hardware, request.server, request.npu_type)
    npu = hardware.npu_type(server.npu_type)
    platform = hardware.platform(npu.platform)
    image = choose_image(load_images(), requested=request.image, min_tag=model.min_image, suffix=platform.image_suffix)
    options = PlanOptions(
        tp=request.tp,
        npus=request.npus,
        gpu_memory_utilization=request.gpu_memory_utilization,
        max_model_len=request.max_model_len,
        port=request.port,
        models_dir=request.models_dir,
    )
    return plan_deployment(model, npu=npu, platform=platform, server=server, image=image, options=options)


def write_compose(plan: Plan, request: PlanRequest, out_dir: Path) -> Path:
    text = render_compose([plan], regenerate=request.command())
    target = out_dir / COMPOSE_FILE
    if target.is_dir():
        raise InputError(f"{target} is a directory")
    write_atomically(target, text)
    return target


def _check_models_dir(models_dir: str) -> None:
    if not models_dir or ":" in models_dir or any(c in models_dir for c in "\n\r\0"):
        raise InputError(f"--models-dir '{models_dir}': a directory path without ':' or newlines")
