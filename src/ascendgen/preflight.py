"""Checks before any container starts: the host, the engine and the deployment agree. Every problem is
collected (not only the first) as one line that says what to do."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import socket
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascendgen.composeconfig import ComposeConfig, ServiceConfig, compose_available
from ascendgen.driver import DRIVER_VERSION_INFO, check_driver_for_image, read_driver_version
from ascendgen.hostnet import HostNetwork, read_host_network
from ascendgen.npusmi import NPU_SMI, NpuSmiFailed, find_npu_smi, npu_smi_info, parse_processes
from ascendgen.render import LABEL_PREFIX
from ascendgen.runtime import container_states

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"
COMPOSE_WORKING_DIR = "com.docker.compose.project.working_dir"
# quay.io/ascend/vllm-ascend images are about 15 GB unpacked (seed 003: "镜像大小有 15GB").
IMAGE_DISK_GIB = 16
_DAVINCI = re.compile(r"/dev/davinci(\d+)$")


@dataclass
class PreflightReport:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # worth reading before a start, but no reason to refuse it
    images_to_pull: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)  # services whose container already runs

    @property
    def ok(self) -> bool:
        return not self.problems


def run_preflight(
    config: ComposeConfig, services: list[ServiceConfig], client: Any | None, *, project_dir: Path | None = None
) -> PreflightReport:
    """`client` is a docker SDK client, or None when the engine could not be reached (already reported).
    `project_dir` is the deployment's directory, which compose records on its containers."""
    report = PreflightReport()
    if compose_available() is None:
        report.problems.append("Docker Compose v2 is missing: install the compose plugin (`docker compose version`)")
    if client is not None:
        report.problems += _taken_by_other_deployments(client, config, services, project_dir)
        states = container_states(client, config, services)
        report.running = {name for name, state in states.items() if state.status == "running"}
    for service in services:
        report.problems += _device_problems(service)
        report.problems += _driver_problems(service)
        report.problems += _model_problems(service)
        report.problems += _gateway_config_problems(service)
        if service.name not in report.running:
            report.problems += _port_problems(service)
    report.problems += _shared_npus(services)
    starting = [s for s in services if s.name not in report.running]
    if client is not None:
        report.problems += _npus_held_by_containers(client, config.project_name, starting, project_dir)
        report.images_to_pull, disk = _images(client, services)
        report.problems += disk
    report.problems += _npus_held_by_processes(starting)
    problems, warnings = _driver_image_checks(starting)
    report.problems += problems
    report.warnings += warnings
    problems, warnings = _multinode_checks(starting)
    report.problems += problems
    report.warnings += warnings
    report.warnings += [w for s in starting for w in _shm_warnings(s)]
    return report


def _taken_by_other_deployments(
    client: Any, config: ComposeConfig, services: list[ServiceConfig], project_dir: Path | None
) -> Iterable[str]:
    """Containers that hold a service's container_name, or that compose would take for one of our services
    (same project name, another directory), but belong to another deployment: `docker compose up` fails on
    the name ("Conflict. The container name ... is already in use"), or replaces the other deployment's
    container. Compose labels every container with its project and project directory
    (com.docker.compose.project, com.docker.compose.project.working_dir)."""
    by_name = {s.container_name: s.name for s in services if s.container_name}
    ours = {s.name for s in services}
    for container in client.containers.list(all=True):
        labels = container.labels or {}
        project = labels.get(COMPOSE_PROJECT)
        same_project = project is not None and project == config.project_name
        service = by_name.get(container.name)
        if service is None and same_project and labels.get(COMPOSE_SERVICE) in ours:
            service = labels[COMPOSE_SERVICE]
        if service is None:
            continue
        where = labels.get(COMPOSE_WORKING_DIR)
        if same_project and (where is None or project_dir is None or _same_dir(where, project_dir)):
            continue  # this deployment's own container: compose reuses or recreates it
        state = getattr(container, "status", None) or "present"
        instead = "or give this one another container_name in compose.override.yml"
        if project is None:
            yield (
                f"{service}: the container name '{container.name}' is taken by a container compose did not start "
                f"({state}): remove it (`docker rm -f {container.name}`), {instead}"
            )
            continue
        held = f"the deployment in {where}" if where else f"compose project '{project}'"
        clash = " (a project of the same name, which up would take over)" if same_project else ""
        down = f"`ascendgen down {shlex.quote(where)}`" if where else f"`docker compose -p {project} down`"
        yield (
            f"{service}: the container name '{container.name}' belongs to {held}{clash}, {state}: stop it there "
            f"({down}), {instead}"
        )


def _same_dir(recorded: str, directory: Path) -> bool:
    return os.path.realpath(recorded) == os.path.realpath(directory)


def _device_problems(service: ServiceConfig) -> Iterable[str]:
    for device in service.devices:
        try:
            mode = os.stat(device.source).st_mode
        except OSError:
            yield f"{service.name}: device {device.source} does not exist on this host ({_device_hint(device.source)})"
            continue
        if not stat.S_ISCHR(mode):
            yield f"{service.name}: {device.source} is not a character device ({_device_hint(device.source)})"


def _device_hint(path: str) -> str:
    if _DAVINCI.search(path):
        return "check `ls /dev/davinci*` and plan with --npus on NPUs that exist"
    return "is the Ascend driver installed and loaded?"


def _driver_problems(service: ServiceConfig) -> Iterable[str]:
    if service.is_gateway:  # no driver mounts; its config is checked by _gateway_config_problems
        return
    for mount in service.volumes:
        if mount.target in HCCN_FILES:
            continue  # _hccn_checks says what they are for
        if mount.read_only and mount.target != "/models" and not os.path.exists(mount.source):
            yield (
                f"{service.name}: driver path {mount.source} is missing on this host "
                "(is the Ascend driver installed? see `cat /usr/local/Ascend/driver/version.info`)"
            )


def _gateway_config_problems(service: ServiceConfig) -> Iterable[str]:
    """A gateway's LiteLLM config must be the one its compose service was planned with (ascendgen.gateway)."""
    from ascendgen.gateway import CONFIG_IN_CONTAINER, config_problem

    problem = config_problem(service.labels, service.host_path_of(CONFIG_IN_CONTAINER))
    if problem is not None:
        yield f"{service.name}: {problem}"


def _model_problems(service: ServiceConfig) -> Iterable[str]:
    path = service.model_path
    if path is None or not path.startswith("/"):
        return
    host = service.host_path_of(path)
    if host is None:
        yield f"{service.name}: the model path {path} is not inside any mounted directory"
        return
    config = host / "config.json"
    if not host.is_dir():
        yield f"{service.name}: model directory {host} does not exist (download the model there, or fix --models-dir)"
        return
    if not config.is_file():
        yield f"{service.name}: {config} is missing: {host} does not hold a Hugging Face model"
        return
    expected = _expected_config(service)
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        yield f"{service.name}: {config} is not valid JSON ({exc})"
        return
    if not isinstance(data, dict):
        yield f"{service.name}: {config} is not a JSON object: {host} does not hold a Hugging Face model"
        return
    actual = _config_counts(data)
    for key, want in expected.items():
        got = actual.get(key)
        if got != want:
            yield (
                f"{service.name}: {config} says {key} {got}, but the plan for {service.catalog_name} expects "
                f"{want}: that folder holds another model, or the catalog entry is wrong"
            )


def _expected_config(service: ServiceConfig) -> dict[str, int]:
    label = service.labels.get(f"{LABEL_PREFIX}.model-config", "")
    expected = {}
    for part in label.split(","):
        key, _, value = part.partition("=")
        if key and value.isdigit():
            expected[key] = int(value)
    return expected


def _config_counts(config: dict[str, Any]) -> dict[str, Any]:
    """The numbers the plan's label names, read as the plan read them (modeldir.ConfigJson: a vision-language
    model's text config first, as vLLM's get_hf_text_config does; glm-4-9b's num_layers and multi_query_group_num);
    no KV-head count means one per attention head, as vLLM and transformers take it."""
    from ascendgen.modeldir import CONFIG_FILE, HEAD_KEYS, KV_HEAD_KEYS, LAYER_KEYS, ConfigJson

    read = ConfigJson(Path(CONFIG_FILE), config)

    def first(keys: tuple[str, ...]) -> Any:
        found = read.first(keys)
        return None if found is None else found[1]

    heads = first(HEAD_KEYS)
    kv_heads = first(KV_HEAD_KEYS)
    return {
        "num_attention_heads": heads,
        "num_key_value_heads": heads if kv_heads is None else kv_heads,
        "num_hidden_layers": first(LAYER_KEYS),
    }


def _port_problems(service: ServiceConfig) -> Iterable[str]:
    port = service.port
    if port is None:
        return
    if port_in_use(port):
        yield f"{service.name}: port {port} is already in use on this host (plan with another --port)"


def port_in_use(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return True
    return False


def _shared_npus(services: list[ServiceConfig]) -> Iterable[str]:
    owner: dict[int, str] = {}
    for service in services:
        for npu in service.npus:
            if npu in owner:
                yield f"NPU {npu} is given to both {owner[npu]} and {service.name}: each NPU serves one instance"
            owner[npu] = service.name


def _npus_held_by_containers(
    client: Any, project: str, services: list[ServiceConfig], project_dir: Path | None = None
) -> Iterable[str]:
    """Running containers of other deployments that hold one of our NPUs: mapped as /dev/davinciN, or given by
    ASCEND_VISIBLE_DEVICES to the Ascend Docker Runtime. Each is named with the deployment (compose project
    directory) that holds it, and how to stop it there."""
    wanted = {_npu_of(d.source): s.name for s in services for d in s.devices if _npu_of(d.source) is not None}
    if not wanted:
        return
    for container in client.containers.list():
        labels = container.labels or {}
        where = labels.get(COMPOSE_WORKING_DIR)
        if labels.get(COMPOSE_PROJECT) == project and (
            where is None or project_dir is None or _same_dir(where, project_dir)
        ):
            continue  # our own containers: compose recreates them
        whose, stop = _holder(labels, container.name)
        for npu in sorted(n for n in _container_npus(container.attrs or {}) if n in wanted):
            yield (
                f"{wanted[npu]}: NPU {npu} is held by running container '{container.name}' {whose} ({stop}, or plan "
                "on free NPUs with --npus)"
            )


def _container_npus(attrs: dict[str, Any]) -> set[int]:
    host_config = attrs.get("HostConfig") or {}
    npus = {_npu_of(str(d.get("PathOnHost", ""))) for d in host_config.get("Devices") or []}
    if host_config.get("Runtime") == "ascend":  # Ascend Docker Runtime: the NPUs are listed, not mapped
        for item in (attrs.get("Config") or {}).get("Env") or []:
            name, _, value = str(item).partition("=")
            if name == "ASCEND_VISIBLE_DEVICES":
                npus |= {int(v) for v in re.split(r"[,\s]+", value) if v.isdigit()}
    return {n for n in npus if n is not None}


def _holder(labels: dict[str, str], name: str) -> tuple[str, str]:
    """Whose container it is (its deployment's directory, else its compose project), and how to stop it."""
    where, project = labels.get(COMPOSE_WORKING_DIR), labels.get(COMPOSE_PROJECT)
    if where:
        return f"of the deployment in {where}", f"stop it there: `ascendgen down {shlex.quote(where)}`"
    if project:
        return f"of compose project '{project}'", f"stop it: `docker compose -p {shlex.quote(project)} down`"
    return "started without compose", f"stop it: `docker stop {shlex.quote(name)}`"


def _npu_of(path: str) -> int | None:
    match = _DAVINCI.search(path)
    return int(match.group(1)) if match else None


def _npus_held_by_processes(services: list[ServiceConfig]) -> Iterable[str]:
    """Busy NPUs from `npu-smi info`'s process table, where npu-smi exists on the host (and answers)."""
    mounted = (service.host_path_of(NPU_SMI) for service in services)
    npu_smi = find_npu_smi(path for path in mounted if path is not None)
    if npu_smi is None:
        return
    try:
        busy = parse_processes(npu_smi_info(npu_smi))
    except NpuSmiFailed:
        return  # doctor reports a failing npu-smi; here it only adds what it can
    for service in services:
        for npu in service.npus:
            if npu in busy:
                pid, name = busy[npu]
                yield (
                    f"{service.name}: NPU {npu} is in use by process {pid} ({name}) per npu-smi "
                    "(stop it, or plan on free NPUs with --npus)"
                )


def _images(client: Any, services: list[ServiceConfig]) -> tuple[list[str], list[str]]:
    missing = []
    for image in sorted({s.image for s in services}):
        try:
            client.images.get(image)
        except Exception:
            missing.append(image)
    problems = []
    if missing:
        root = (client.info() or {}).get("DockerRootDir", "/var/lib/docker")
        try:
            free_gib = shutil.disk_usage(root).free / 1024**3
        except OSError:
            free_gib = None
        if free_gib is not None and free_gib < IMAGE_DISK_GIB * len(missing):
            problems.append(
                f"only {free_gib:.1f} GiB free under {root}; pulling {', '.join(missing)} needs about "
                f"{IMAGE_DISK_GIB * len(missing)} GiB (free space, or `docker image prune`)"
            )
    return missing, problems


# ----------------------------------------------------------------- the image's CANN against the host's driver


def _driver_image_checks(services: list[ServiceConfig]) -> tuple[list[str], list[str]]:
    """Refuse an image whose CANN needs a newer driver than the host's, before a 15 GB pull; warn where the
    image's CANN or its minimum driver is not known. One line per image."""
    from ascendgen.images import load_images

    problems: list[str] = []
    warnings: list[str] = []
    known = load_images()
    seen: set[str] = set()
    for service in services:
        if service.image in seen:
            continue
        seen.add(service.image)
        path = service.host_path_of(DRIVER_VERSION_INFO) or Path(DRIVER_VERSION_INFO)
        version, _ = read_driver_version(path)
        if version is None:
            continue  # reported as a missing driver path, or by `ascendgen doctor`
        verdict = check_driver_for_image(service.image, version, known, where=str(path))
        if verdict is None or verdict.status == "ok":
            continue
        (problems if verdict.status == "too_old" else warnings).append(f"{service.name}: {verdict.message}")
    return problems, warnings


# ------------------------------------------------------------------------------- one model over several servers

# The variables naming the interface each library talks over (the multi-node compose sets all three to the
# --node interface). HCCL and TP take a prefix unless written `=name`, and `^name` excludes (HCCL's reading of
# HCCL_SOCKET_IFNAME, as NCCL's); Gloo takes a device name as it is.
IFNAME_VARIABLES = ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME")
HCCN_TOOL = "/usr/local/Ascend/driver/tools/hccn_tool"
HCCN_CONF = "/etc/hccn.conf"
HCCN_FILES = (HCCN_TOOL, HCCN_CONF)
_HCCN_ADDRESS = re.compile(r"^\s*address_(\d+)\s*=\s*\S+", re.MULTILINE)
RAY_DEFAULT_PORT = 6379  # ray/_private/ray_constants.py DEFAULT_PORT; the head's GCS listens there
_RAY_START = re.compile(r"\bray start\b[^&;|]*")  # one `ray start ...` of a shell command line
_RAY_PORT = re.compile(r"--port[= ](\d+)")


def _multinode_checks(services: list[ServiceConfig]) -> tuple[list[str], list[str]]:
    """For the services of a multi-node deployment (HCCL_IF_IP or *_SOCKET_IFNAME set): the interfaces and the
    node's address are this host's, hccn_tool and /etc/hccn.conf are there, and on the head Ray's port is free."""
    problems: list[str] = []
    warnings: list[str] = []
    nodes = [s for s in services if "HCCL_IF_IP" in s.environment or any(v in s.environment for v in IFNAME_VARIABLES)]
    if not nodes:
        return problems, warnings
    host = read_host_network()
    for service in nodes:
        if host is not None:
            problems += _network_problems(service, host)
        hccn_problems, hccn_warnings = _hccn_checks(service)
        problems += hccn_problems
        warnings += hccn_warnings
        port = ray_head_port(service)
        if port is not None and port_in_use(port):
            problems.append(
                f"{service.name}: port {port}, where the Ray head listens (`ray start --head --port={port}`), is "
                "already in use on this host: another Ray head runs here (`ray stop`, or `docker ps` for a container "
                "running Ray; `ss -ltnp` names the process)"
            )
    return problems, warnings


def _interface_names(value: str) -> list[tuple[str, bool]]:
    """The interfaces a *_SOCKET_IFNAME value names, each with whether it must match exactly."""
    names = []
    exact = value.startswith("=")
    for part in value.removeprefix("=").split(","):
        part = part.strip()
        if part and not part.startswith("^"):
            names.append((part, exact))
    return names


def _network_problems(service: ServiceConfig, host: HostNetwork) -> Iterable[str]:
    import ipaddress

    from ascendgen.cluster import host_port

    named: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}
    for variable in IFNAME_VARIABLES:
        for name, exact in _interface_names(service.environment.get(variable, "")):
            prefix_ok = not exact and variable != "GLOO_SOCKET_IFNAME"
            found = name in host.interfaces or (prefix_ok and any(i.startswith(name) for i in host.interfaces))
            (named if found else missing).setdefault(name, []).append(variable)
    for name, variables in missing.items():
        yield (
            f"{service.name}: network interface '{name}' ({', '.join(variables)}) does not exist on this host, which "
            f"has {', '.join(sorted(host.interfaces)) or 'none'}: start each node's directory on its own server, or "
            "replan with --node ADDRESS:INTERFACE as `ip -br addr` shows this server's"
        )
    raw = service.environment.get("HCCL_IF_IP")
    if not raw or not host.knows_addresses:
        return
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        yield f"{service.name}: HCCL_IF_IP '{raw}' is not an IP address: replan with --node ADDRESS:INTERFACE"
        return
    if not host.has_address(address):
        yield (
            f"{service.name}: this host has no address {address} (HCCL_IF_IP, the node's --node address): this is "
            f"the compose file of the node {address}; start it on that server (copy the directory there and run "
            "`ascendgen up` there), or replan with this server's address"
        )
        return
    holders = host.interfaces_with(address)
    if holders and named and not any(h in named for h in holders):
        yield (
            f"{service.name}: {address} (HCCL_IF_IP) is on {', '.join(holders)}, not on {', '.join(named)}: HCCL, "
            f"Gloo and Ray would talk over different networks; replan every node with --node "
            f"{host_port(str(address), None)}:{holders[0]}"
        )


def _hccn_checks(service: ServiceConfig) -> tuple[list[str], list[str]]:
    """hccn_tool and /etc/hccn.conf, which HCCL needs to reach the other servers' NPUs over RoCE; and an
    address in hccn.conf for each NPU the service uses."""
    problems: list[str] = []
    warnings: list[str] = []
    for mount in service.volumes:
        if mount.target == HCCN_TOOL and not os.path.exists(mount.source):
            problems.append(
                f"{service.name}: {mount.source} is missing: HCCL needs hccn_tool to reach the other servers' NPUs "
                "over RoCE; it ships with the Ascend driver's full install (`ls /usr/local/Ascend/driver/tools/`)"
            )
        elif mount.target == HCCN_CONF:
            try:
                text = Path(mount.source).read_text(encoding="utf-8", errors="replace")
            except OSError:
                problems.append(
                    f"{service.name}: {mount.source} is missing or unreadable: the NPUs' RoCE ports have no "
                    "addresses; give each NPU one with `hccn_tool -i N -ip -s address A.B.C.D netmask M` (it writes "
                    "/etc/hccn.conf)"
                )
                continue
            configured = {int(n) for n in _HCCN_ADDRESS.findall(text)}
            missing = [npu for npu in service.npus if npu not in configured]
            if missing:
                warnings.append(
                    f"{service.name}: {mount.source} has no address for NPU {', '.join(map(str, missing))}: HCCL "
                    "cannot reach the other servers from it; `hccn_tool -i N -ip -s address A.B.C.D netmask M` for "
                    "each (`hccn_tool -i N -ip -g` shows one)"
                )
    return problems, warnings


def ray_head_port(service: ServiceConfig) -> int | None:
    """The port of `ray start --head` in the service's command (6379 when not given); None when it starts no
    Ray head."""
    for start in _RAY_START.finditer(" ".join(service.command)):
        if re.search(r"--head\b", start.group(0)):
            port = _RAY_PORT.search(start.group(0))
            return int(port.group(1)) if port else RAY_DEFAULT_PORT
    return None


def starts_ray(service: ServiceConfig) -> bool:
    """A Ray head (`sh -c "ray start --head ... && exec vllm serve ..."`) or worker (entrypoint ray, `start ...`)."""
    return (
        service.labels.get(f"{LABEL_PREFIX}.role") is not None
        or ray_head_port(service) is not None
        or (service.command[:1] == ("start",) and any(arg.startswith("--address=") for arg in service.command))
    )


# ----------------------------------------------------------------------------------------------- shared memory

# Docker gives a container 64 MiB of /dev/shm unless told otherwise (docker run --shm-size: "If you omit the
# size entirely, the system uses 64m").
DOCKER_DEFAULT_SHM_BYTES = 64 * 2**20
# Ray sizes its object store at 30% of the available memory, capped at max(10 GB, 95% of /dev/shm)
# (ray/_private/resource_spec.py _resolve_memory_resources; ray_constants.py DEFAULT_OBJECT_STORE_MEMORY_PROPORTION
# = 0.3, REQUIRE_SHM_SIZE_THRESHOLD = 10**10). When /dev/shm is smaller than that, Ray puts the object store in
# /tmp (services.py determine_plasma_store_config: "This will harm performance! ... Make sure to set this to more
# than 30% of available RAM"). So /dev/shm keeps it when it is at least min(30% of available memory, 10 GB).
RAY_OBJECT_STORE_SHARE = 0.3
RAY_SHM_CAP_BYTES = 10**10
PROC_MEMINFO = Path("/proc/meminfo")
DEV_SHM = Path("/dev/shm")


def _shm_warnings(service: ServiceConfig) -> Iterable[str]:
    """For a service that runs vLLM or Ray: /dev/shm too small for them, or larger than the host's memory."""
    if not service.serve_command and not starts_ray(service):
        return  # a GPUStack server, or anything else that runs no engine here
    available = _available_memory()
    if service.ipc == "host":
        shm = _free_bytes(DEV_SHM)
        what = f"the host's {DEV_SHM} (ipc: host) has {_size(shm)} free" if shm is not None else None
    else:
        shm = service.shm_size
        if shm is None:
            yield (
                f"{service.name}: shm_size is not set, so Docker gives the container {_size(DOCKER_DEFAULT_SHM_BYTES)} "
                "of /dev/shm, too little for vLLM's workers (torch shares tensors through it): set shm_size: 1g (as "
                "ascendgen writes it) in compose.override.yml"
            )
            shm = DOCKER_DEFAULT_SHM_BYTES
        what = f"/dev/shm in the container is {_size(shm)} (shm_size)"
        if available is not None and shm > available:
            yield (
                f"{service.name}: shm_size {_size(shm)} is more than the {_size(available)} of memory this host has "
                "available: what is written to /dev/shm takes host memory"
            )
    if shm is None or what is None or available is None or not starts_ray(service):
        return
    needed = min(int(available * RAY_OBJECT_STORE_SHARE), RAY_SHM_CAP_BYTES)
    if shm < needed:
        gib = -(-needed // 2**30)
        fix = (
            f"free the host's {DEV_SHM}, or remount it larger (`mount -o remount,size={gib}G {DEV_SHM}`)"
            if service.ipc == "host"
            else f"set shm_size: {gib}g for this service in compose.override.yml"
        )
        yield (
            f"{service.name}: {what}, less than the object store Ray sizes on this host ({_size(needed)}: 30% of the "
            f'{_size(available)} of available memory, at most 10 GB): Ray keeps it in /tmp instead ("This will harm '
            f'performance"); {fix}'
        )


def _available_memory() -> int | None:
    """MemAvailable of /proc/meminfo, in bytes: what Ray's estimate of available memory starts from."""
    try:
        text = PROC_MEMINFO.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    match = re.search(r"^MemAvailable:\s+(\d+)\s*kB", text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else None


def _free_bytes(path: Path) -> int | None:
    try:
        stats = os.statvfs(path)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def _size(value: int) -> str:
    return f"{value / 2**30:.1f} GiB" if value >= 2**30 else f"{value // 2**20} MiB"
