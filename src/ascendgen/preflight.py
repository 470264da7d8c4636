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
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascendgen.composeconfig import ComposeModel, ServiceConfig, compose_available
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
    images_to_pull: list[str] = field(default_factory=list)
    running: set[str] = field(default_factory=set)  # services whose container already runs

    @property
    def ok(self) -> bool:
        return not self.problems


def run_preflight(
    model: ComposeModel, services: list[ServiceConfig], client: Any | None, *, project_dir: Path | None = None
) -> PreflightReport:
    """`client` is a docker SDK client, or None when the engine could not be reached (already reported).
    `project_dir` is the deployment's directory, which compose records on its containers."""
    report = PreflightReport()
    if compose_available() is None:
        report.problems.append("Docker Compose v2 is missing: install the compose plugin (`docker compose version`)")
    if client is not None:
        report.problems += _taken_by_other_deployments(client, model, services, project_dir)
        states = container_states(client, model, services)
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
        report.problems += _npus_held_by_containers(client, model.project_name, starting)
        report.images_to_pull, disk = _images(client, services)
        report.problems += disk
    report.problems += _npus_held_by_processes(starting)
    return report


def engine_problem(client_factory: Any) -> tuple[Any | None, str | None]:
    """A docker SDK client, or the one-line reason the engine cannot be reached."""
    try:
        client = client_factory()
        client.ping()
        return client, None
    except Exception as exc:  # the SDK raises DockerException, requests' errors, FileNotFoundError...
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return None, f"the Docker Engine is not reachable ({reason}): start it (`systemctl start docker`)"


def _taken_by_other_deployments(
    client: Any, model: ComposeModel, services: list[ServiceConfig], project_dir: Path | None
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
        same_project = project is not None and project == model.project_name
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
        actual = _text_config(json.loads(config.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        yield f"{service.name}: {config} is not valid JSON ({exc})"
        return
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


def _text_config(config: dict[str, Any]) -> dict[str, Any]:
    """Vision-language configs keep the language model's numbers under text_config / llm_config."""
    for nested in ("text_config", "llm_config", "language_config"):
        inner = config.get(nested)
        if isinstance(inner, dict) and "num_attention_heads" in inner and "num_attention_heads" not in config:
            return inner
    return config


def _port_problems(service: ServiceConfig) -> Iterable[str]:
    port = service.port
    if port is None:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            yield f"{service.name}: port {port} is already in use on this host (plan with another --port)"


def _shared_npus(services: list[ServiceConfig]) -> Iterable[str]:
    owner: dict[int, str] = {}
    for service in services:
        for npu in service.npus:
            if npu in owner:
                yield f"NPU {npu} is given to both {owner[npu]} and {service.name}: each NPU serves one instance"
            owner[npu] = service.name


def _npus_held_by_containers(client: Any, project: str, services: list[ServiceConfig]) -> Iterable[str]:
    wanted = {_npu_of(d.source): s.name for s in services for d in s.devices if _npu_of(d.source) is not None}
    if not wanted:
        return
    for container in client.containers.list():
        labels = container.labels or {}
        if labels.get(COMPOSE_PROJECT) == project:
            continue  # our own containers: compose recreates them
        devices = (container.attrs.get("HostConfig") or {}).get("Devices") or []
        for device in devices:
            npu = _npu_of(str(device.get("PathOnHost", "")))
            if npu in wanted:
                yield (
                    f"{wanted[npu]}: NPU {npu} is held by running container '{container.name}' "
                    "(stop it, or plan on free NPUs with --npus)"
                )


def _npu_of(path: str) -> int | None:
    match = _DAVINCI.search(path)
    return int(match.group(1)) if match else None


def _npus_held_by_processes(services: list[ServiceConfig]) -> Iterable[str]:
    """Busy NPUs from `npu-smi info`'s process table, where npu-smi exists on the host."""
    npu_smi = _npu_smi_path(services)
    if npu_smi is None:
        return
    try:
        done = subprocess.run([npu_smi, "info"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return
    busy = parse_npu_smi_processes(done.stdout)
    for service in services:
        for npu in service.npus:
            if npu in busy:
                pid, name = busy[npu]
                yield (
                    f"{service.name}: NPU {npu} is in use by process {pid} ({name}) per npu-smi "
                    "(stop it, or plan on free NPUs with --npus)"
                )


def _npu_smi_path(services: list[ServiceConfig]) -> str | None:
    for service in services:
        host = service.host_path_of("/usr/local/bin/npu-smi")
        if host is not None and os.access(host, os.X_OK) and host.is_file():
            return str(host)
    return shutil.which("npu-smi")


# npu-smi prints an empty process name for processes it sees from another PID namespace (a container).
_PROCESS_ROW = re.compile(r"^\|\s*(\d+)\s+\d+\s*\|\s*(\d+)\s*\|\s*(\S*)\s*\|\s*\d+\s*\|\s*$")


def parse_npu_smi_processes(output: str) -> dict[int, tuple[int, str]]:
    """NPU index -> (pid, process name) from the process table at the end of `npu-smi info`."""
    busy: dict[int, tuple[int, str]] = {}
    in_table = False
    for line in output.splitlines():
        if "Process id" in line:
            in_table = True
            continue
        if not in_table:
            continue
        match = _PROCESS_ROW.match(line.strip())
        if match:
            busy.setdefault(int(match.group(1)), (int(match.group(2)), match.group(3) or "unnamed"))
    return busy


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
