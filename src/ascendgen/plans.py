"""What the CLI does, as plain functions: the CLI only packs flags into a PlanRequest and prints results.
Everything here returns data; nothing prints."""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ascendgen.catalog import Catalog, ModelSpec, load_catalog
from ascendgen.cluster import DP_LAYOUTS, layout_sizes
from ascendgen.errors import InputError, PlanError
from ascendgen.hardware import DEFAULT_SERVER, Hardware, ServerProfile, load_hardware
from ascendgen.images import choose_image, load_images
from ascendgen.modeldir import ResolvedModel, resolve_model
from ascendgen.placement import NpuNeed, place_instances
from ascendgen.planner import (
    BACKEND_HOST,
    DEFAULT_PORT,
    EP_FLAG,
    Plan,
    PlanOptions,
    check_gateway_name,
    plan_deployment,
    quantized_builds,
)
from ascendgen.request import InstanceRequest, PlanRequest
from ascendgen.safetext import has_control_chars


def load_catalog_for(request: PlanRequest) -> Catalog:
    return load_catalog(Path(p) for p in request.catalogs)


def resolve_server(hardware: Hardware, server: str | None, npu_type: str | None) -> ServerProfile:
    """The server profile to plan for: `--server`, else the first profile with `--npu-type`'s NPUs, else the
    default profile with its NPUs replaced by `--npu-type`."""
    if server is not None:
        profile = hardware.server(server)
        if npu_type is not None:
            profile = replace(profile, npu_type=hardware.npu_type(npu_type).name)
        return profile
    if npu_type is None:
        return hardware.server(DEFAULT_SERVER)
    wanted = hardware.npu_type(npu_type).name
    for profile in hardware.servers:
        if profile.npu_type == wanted:
            return profile
    return replace(hardware.server(DEFAULT_SERVER), npu_type=wanted)


def make_plans(request: PlanRequest) -> list[Plan]:
    """Plan every instance, then place them on the server: NPUs without overlap, distinct ports."""
    if not request.instances:
        raise InputError("nothing to plan: name at least one model")
    check_models_dir(request.models_dir, "--models-dir" if request.deployment_file is None else "models_dir")
    catalog = load_catalog_for(request)
    hardware = load_hardware(Path(p) for p in request.hardware)
    server = resolve_server(hardware, request.server, request.npu_type)
    npu = hardware.npu_type(server.npu_type)
    platform = hardware.platform(npu.platform)
    images = load_images()
    several = len(request.instances) > 1
    resolved: dict[str, ResolvedModel] = {}

    def model_for(instance: InstanceRequest) -> ResolvedModel:
        """The instance's model, from the catalog or its directory's files (read once per model)."""
        if instance.model not in resolved:
            resolved[instance.model] = resolve_model(instance.model, catalog, request.models_dir)
        return resolved[instance.model]

    def plan_one(
        instance: InstanceRequest,
        npus: tuple[int, ...] | None,
        port: int,
        *,
        nodes: int = 1,
        tp: int | None = None,
        pp: int = 1,
        expert_parallel: bool | None = None,
        fill: bool | None = None,
        npu_budget: int | None = None,
    ) -> Plan:
        found = model_for(instance)
        model = _with_served_name(found.spec, instance.served_name)
        if request.gateway:
            check_gateway_name(model.served_model_name)
        if expert_parallel and EP_FLAG not in model.serve_flags:
            if model.kind != "moe":
                raise InputError(f"--layout {request.layout or 'ep'} is for MoE models; {model.name} is dense")
            model = replace(model, serve_flags=(*model.serve_flags, EP_FLAG))
        image = choose_image(
            images, requested=request.image, min_tag=model.min_image, suffix=platform.image_suffix, npu=npu.name
        )
        options = PlanOptions(
            nodes=nodes,
            pp=pp,
            expert_parallel=expert_parallel,
            tp=tp or instance.tp,
            npus=npus,
            npus_placed=npus is not None and instance.npus is None,
            gpu_memory_utilization=instance.gpu_memory_utilization,
            max_model_len=instance.max_model_len,
            port=port,
            models_dir=request.models_dir,
            host=BACKEND_HOST if request.gateway else request.host,  # behind a gateway: this machine only
            require_api_key=request.api_key_env,
            dp=instance.dp or 1,
            fill=instance.fill if fill is None else fill,
            npu_budget=npu_budget,
        )
        quantized = quantized_builds(model, catalog.models)
        plan = plan_deployment(
            model, npu=npu, platform=platform, server=server, image=image, options=options, quantized=quantized
        )
        return replace(
            plan, model_source=found.source, files_read=found.files_read, warnings=(*found.notes, *plan.warnings)
        )

    if request.nodes:
        return [_plan_cluster(request, plan_one, server.npu_count)]
    labels = [
        f"instance {number} ({instance.model})" if several else instance.model
        for number, instance in enumerate(request.instances, start=1)
    ]
    counts: dict[int, int] = {}
    budgets: dict[int, int] = {}  # what a --fill instance may take when others share the server
    filling = [i for i, instance in enumerate(request.instances) if instance.fill and instance.npus is None]
    if len(filling) > 1:
        raise InputError(
            f"{labels[filling[0]]} and {labels[filling[1]]} both --fill what the others leave: give one of them npus"
        )
    for index, instance in enumerate(request.instances):
        if index in filling:
            continue  # it takes what the others leave: counted after them
        try:
            counts[index] = len(instance.npus) if instance.npus else _npus_of(plan_one(instance, None, DEFAULT_PORT))
        except PlanError as exc:
            raise PlanError(f"{labels[index]}: {exc}" if several else str(exc)) from None
    for index in filling:
        left = server.npu_count - sum(counts.values())
        if left < 1:
            raise PlanError(f"{labels[index]}: --fill: the other instances take all {server.npu_count} NPUs")
        if several:
            budgets[index] = left
        try:
            counts[index] = _npus_of(
                plan_one(request.instances[index], None, DEFAULT_PORT, npu_budget=budgets.get(index))
            )
        except PlanError as exc:
            raise PlanError(f"{labels[index]}: {exc}" if several else str(exc)) from None
    needs = [
        NpuNeed(label=label, count=counts[index], fixed_npus=instance.npus, port=instance.port)
        for index, (label, instance) in enumerate(zip(labels, request.instances, strict=True))
    ]
    first_port = request.first_port
    if request.gateway:  # the gateway takes --port, the instances count up after it
        for need in needs:
            if need.port == request.first_port:
                raise InputError(
                    f"{need.label}: port {need.port} is the gateway's (--port / first_port); give the instance "
                    "another port, or leave it out to count up after the gateway's"
                )
        first_port += 1
    placements = place_instances(needs, server, first_port)
    plans = []
    for index, (need, instance, placement) in enumerate(zip(needs, request.instances, placements, strict=True)):
        try:
            plans.append(plan_one(instance, placement.npus, placement.port, npu_budget=budgets.get(index)))
        except PlanError as exc:
            raise PlanError(f"{need.label}: {exc}" if several else str(exc)) from None
    return plans


def _npus_of(plan: Plan) -> int:
    """The NPUs an instance takes on its server: TP x DP."""
    return plan.tensor_parallel_size * plan.data_parallel_size


def _plan_cluster(request: PlanRequest, plan_one: Callable[..., Plan], npus_per_node: int) -> Plan:
    if len(request.instances) != 1:
        raise InputError("several servers (--node) serve one model: name exactly one")
    if len(request.nodes) < 2:
        raise InputError("a multi-node plan needs two or more --node ADDRESS:INTERFACE (the first is the head)")
    addresses = [node.address for node in request.nodes]
    if len(set(addresses)) != len(addresses):
        raise InputError("each --node needs its own address")
    (instance,) = request.instances
    if instance.npus is not None or instance.tp is not None:
        raise InputError("with --node, the layout sets TP and every NPU of every node is used: drop --tp/--npus")
    if instance.dp is not None or instance.fill:
        raise InputError(
            "with --node, the layout sets data parallel: use --layout dp (or dp-ep for a MoE model), drop --dp/--fill"
        )
    layout = request.layout or "tp"
    if layout in DP_LAYOUTS:
        plan = _plan_dp_cluster(request, instance, plan_one, layout)
    else:
        tp, pp, expert_parallel = layout_sizes(layout, len(request.nodes), npus_per_node)
        plan = plan_one(instance, None, instance.port or request.first_port, nodes=len(request.nodes), tp=tp, pp=pp,
                        expert_parallel=expert_parallel)  # fmt: skip
    loopback = [node.address for node in request.nodes if ipaddress.ip_address(node.address).is_loopback]
    if loopback:
        warning = (
            f"node address {', '.join(loopback)} is loopback: the nodes can only be containers on this one host (a "
            "test setup); for real servers give each one's address on the network they share"
        )
        plan = replace(plan, warnings=(*plan.warnings, warning))
    return plan


def _plan_dp_cluster(
    request: PlanRequest, instance: InstanceRequest, plan_one: Callable[..., Plan], layout: str
) -> Plan:
    """vLLM's multi-node data parallel: the planner picks TP within a server and fills every NPU of every node with
    data-parallel ranks; dp-ep adds expert parallel over all of them, dp leaves it out (cluster.DP_LAYOUTS)."""
    port = instance.port or request.first_port
    return plan_one(instance, None, port, nodes=len(request.nodes), expert_parallel=DP_LAYOUTS[layout], fill=True)


def _with_served_name(model: ModelSpec, served_name: str | None) -> ModelSpec:
    if served_name is None:
        check_served_name(model.served_model_name)  # a catalog's served_name
        return model
    check_served_name(served_name)
    return replace(model, served_name=served_name)


def check_served_name(name: str) -> None:
    """A name `vllm serve --served-model-name NAME` receives as that one name, and clients can type.
    vLLM's --served-model-name takes one or more words (ModelConfig.served_model_name is `str | list[str]`,
    which vllm/engine/arg_utils.py turns into argparse nargs="+"); argparse reads a word that starts with '-'
    as the next option, so `--served-model-name --api-key` stops vLLM at start-up."""
    if not name.strip() or has_control_chars(name):
        raise InputError(f"served name {name!r} must be one line of printable text, e.g. qwen3-8b")
    if name != name.strip():
        raise InputError(f"served name {name!r} begins or ends with spaces, which clients would have to send too")
    if name.startswith("-"):
        raise InputError(
            f"served name {name!r} starts with '-': vLLM's argument parser would read it as an option; "
            "start it with a letter or digit, e.g. qwen3-8b"
        )


def check_models_dir(models_dir: str, what: str = "--models-dir") -> str:
    """The host directory mounted at /models, as `plan` and `gpustack` both take it: an absolute path. Compose
    reads a relative source without './' as the name of a volume ("undefined volume"), and one with './'
    relative to the compose file's directory, not to where the command ran; ':' would split the short volume
    syntax SOURCE:TARGET:MODE. Spaces are fine (the value is quoted)."""
    if not models_dir or ":" in models_dir or has_control_chars(models_dir):
        raise InputError(f"{what} {models_dir!r}: an absolute directory path without ':' or control characters")
    if not models_dir.startswith("/"):
        absolute = os.path.abspath(os.path.expanduser(models_dir))
        raise InputError(
            f"{what} {models_dir!r}: give the host directory as an absolute path, e.g. {absolute} (compose reads "
            "a relative one as a volume name, or relative to the compose file)"
        )
    return models_dir
