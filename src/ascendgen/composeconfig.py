"""A deployment as docker compose sees it: the effective configuration of compose.yml (plus
compose.override.yml, exactly as `docker compose` merges them), read through `docker compose config --format
json`."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ascendgen.errors import AscendgenError, InputError

if TYPE_CHECKING:
    from ascendgen.catalog import Task
from ascendgen.render import COMPOSE_FILE, LABEL_PREFIX, compose_unescaped

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml")


@dataclass(frozen=True)
class Project:
    """Where a deployment lives and how to call compose on it."""

    directory: Path
    file: Path | None  # None: compose finds compose.yml (+ compose.override.yml) in `directory` itself

    def compose_args(self) -> list[str]:
        args = ["docker", "compose", "--project-directory", str(self.directory)]
        if self.file is not None:
            args += ["-f", str(self.file)]
        return args


def locate_project(directory: Path | None, file: Path | None) -> Project:
    if file is not None:
        if not file.is_file():
            raise InputError(f"{file}: no such compose file")
        file = file.resolve()
        if file.name in DEFAULT_FILES and directory is None:
            return Project(directory=file.parent, file=None)
        return Project(directory=(directory or file.parent).resolve(), file=file)
    directory = (directory or Path(".")).resolve()
    if not directory.is_dir():
        raise InputError(f"{directory}: no such directory")
    if not any((directory / name).is_file() for name in DEFAULT_FILES):
        raise InputError(f"no {COMPOSE_FILE} in {directory}: run 'ascendgen plan MODEL' there first, or pass -f FILE")
    return Project(directory=directory, file=None)


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    read_only: bool


@dataclass(frozen=True)
class ServiceConfig:
    name: str
    container_name: str | None
    image: str
    devices: tuple[Mount, ...]
    volumes: tuple[Mount, ...]
    command: tuple[str, ...]
    environment: dict[str, str]
    labels: dict[str, str]
    shm_size: int | None = None  # bytes of /dev/shm in the container; None: Docker's default (64 MiB)
    ipc: str | None = None  # "host": the container shares the host's IPC namespace and /dev/shm

    @property
    def serve_command(self) -> tuple[str, ...]:
        """`serve MODEL --flags...`: the command itself, or the `vllm serve ...` part of a Ray head's
        `sh -c "ray start ... && exec vllm serve ..."`; () for anything else (a Ray worker)."""
        if self.command[:1] == ("serve",):
            return self.command
        if len(self.command) == 1:
            try:
                words = shlex.split(self.command[0])
            except ValueError:
                return ()
            for index in range(len(words) - 1):
                if words[index].endswith("vllm") and words[index + 1] == "serve":
                    return tuple(words[index + 1 :])
        return ()

    def serve_flag(self, flag: str) -> str | None:
        """The value of a `vllm serve` flag (`--max-model-len 32768` or `--max-model-len=32768`), if given."""
        return _flag_value(self.serve_command, flag)

    @property
    def port(self) -> int | None:
        label = self.labels.get(f"{LABEL_PREFIX}.port")
        if label and label.isdigit():
            return int(label)
        flag = _flag_value(self.serve_command, "--port")
        return int(flag) if flag and flag.isdigit() else None

    @property
    def served_model_name(self) -> str | None:
        if f"{LABEL_PREFIX}.served-model-names" in self.labels:  # a gateway: its names, as one text
            return ", ".join(self.served_names) or None
        return self._served_name()

    def _served_name(self) -> str | None:
        return (
            self.labels.get(f"{LABEL_PREFIX}.served-model-name")
            or _flag_value(self.serve_command, "--served-model-name")
            or self.model_path
        )

    @property
    def served_names(self) -> tuple[str, ...]:
        """Every model name the service answers for: a gateway's list (its label), else the one served name."""
        listed = self.labels.get(f"{LABEL_PREFIX}.served-model-names")
        if listed is not None:
            try:
                names = json.loads(listed)
            except ValueError:
                names = None
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                return tuple(names)
            return ()
        name = self._served_name()
        return (name,) if name else ()

    @property
    def task(self) -> Task:
        """What the model is for: the plan's label; for a file without it, vLLM's `--task embed|score`, or
        `--runner pooling` with a sequence-classification override (a reranker) or without (an embedder)."""
        label = self.labels.get(f"{LABEL_PREFIX}.task")
        if label in ("embed", "rerank"):
            return "embed" if label == "embed" else "rerank"
        task = self.serve_flag("--task")
        if task in ("embed", "score"):
            return "embed" if task == "embed" else "rerank"
        if self.serve_flag("--runner") == "pooling":
            overrides = self.serve_flag("--hf-overrides") or self.serve_flag("--hf_overrides") or ""
            return "rerank" if "ForSequenceClassification" in overrides else "embed"
        return "generate"

    @property
    def is_gateway(self) -> bool:
        return self.labels.get(f"{LABEL_PREFIX}.role") == "gateway"

    @property
    def health_path(self) -> str:
        """Where the service answers 200 while it lives, without a key: vLLM's /health, or LiteLLM's liveness
        probe for a gateway (its /health calls every model and needs the key: docs/my-website/docs/proxy/health.md)."""
        return "/health/liveliness" if self.is_gateway else "/health"

    @property
    def model_path(self) -> str | None:
        if len(self.serve_command) >= 2:
            return self.serve_command[1]
        return None

    @property
    def api_key(self) -> str | None:
        """The key vLLM requires (VLLM_API_KEY, interpolated by compose from .env), if any."""
        return self.environment.get("VLLM_API_KEY") or _flag_value(self.serve_command, "--api-key") or None

    @property
    def exposed_without_key(self) -> bool:
        """Listening on every interface (vLLM's default host) with no API key."""
        host = _flag_value(self.serve_command, "--host")
        return self.port is not None and self.api_key is None and host in (None, "0.0.0.0", "::", "")

    @property
    def catalog_name(self) -> str | None:
        return self.labels.get(f"{LABEL_PREFIX}.model")

    @property
    def model_facts(self) -> dict[str, int]:
        """What the plan knew of the model (heads, KV heads, layers), from the label ascendgen writes."""
        facts = {}
        for item in self.labels.get(f"{LABEL_PREFIX}.model-config", "").split(","):
            key, _, value = item.partition("=")
            if value.isdigit():
                facts[key] = int(value)
        return facts

    @property
    def npus(self) -> tuple[int, ...]:
        found = []
        for device in self.devices:
            match = re.fullmatch(r"/dev/davinci(\d+)", device.target)
            if match:
                found.append(int(match.group(1)))
        return tuple(sorted(found))

    def host_path_of(self, container_path: str) -> Path | None:
        """The host path bind-mounted at `container_path` (or a parent of it), if any."""
        best: Mount | None = None
        for mount in self.volumes:
            target = mount.target.rstrip("/") or "/"
            inside = container_path == target or container_path.startswith(target + "/")
            if inside and (best is None or len(target) > len(best.target.rstrip("/"))):
                best = mount
        if best is None:
            return None
        rest = container_path[len(best.target.rstrip("/")) :].lstrip("/")
        return Path(best.source) / rest if rest else Path(best.source)


@dataclass(frozen=True)
class ComposeConfig:
    """What `docker compose config` says of a deployment: its project name and its services."""

    project_name: str
    services: tuple[ServiceConfig, ...]

    def service(self, name: str) -> ServiceConfig:
        for service in self.services:
            if service.name == name:
                return service
        raise InputError(f"no service '{name}' in this deployment; services: {', '.join(self.names)}")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]


def served_tasks(services: Iterable[ServiceConfig]) -> dict[str | None, Task]:
    """What each model an instance serves is for, by served name: a gateway routes by these names, so what it
    answers for a name is what the instance behind it is for."""
    return {svc.served_model_name: svc.task for svc in services if not svc.is_gateway}


def compose_available() -> str | None:
    """Compose v2's version, or None when `docker compose` is missing or older."""
    if shutil.which("docker") is None:
        return None
    try:
        done = subprocess.run(
            ["docker", "compose", "version", "--short"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    version = done.stdout.strip().lstrip("v")
    return version if done.returncode == 0 and version.startswith("2") else None


def load_compose_config(project: Project) -> ComposeConfig:
    done = subprocess.run(
        [*project.compose_args(), "config", "--format", "json"],
        capture_output=True,
        text=True,
        cwd=project.directory,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise InputError(f"docker compose cannot read the deployment in {project.directory}: {last}")
    data = compose_unescaped(json.loads(done.stdout))
    services = tuple(_service(name, raw) for name, raw in sorted((data.get("services") or {}).items()))
    return ComposeConfig(project_name=str(data.get("name", project.directory.name)), services=services)


def _service(name: str, raw: dict[str, Any]) -> ServiceConfig:
    command = raw.get("command") or []
    if isinstance(command, str):
        command = command.split()
    environment = raw.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment if "=" in item)
    return ServiceConfig(
        name=name,
        container_name=raw.get("container_name"),
        image=str(raw.get("image", "")),
        devices=tuple(_device(d) for d in raw.get("devices") or []),
        volumes=tuple(_volume(v) for v in raw.get("volumes") or [] if _is_bind(v)),
        command=tuple(str(c) for c in command),
        environment={str(k): "" if v is None else str(v) for k, v in environment.items()},
        labels={str(k): str(v) for k, v in (raw.get("labels") or {}).items()},
        shm_size=_bytes(raw.get("shm_size")),
        ipc=str(raw["ipc"]) if raw.get("ipc") else None,
    )


_SIZE_UNITS = {"": 1, "b": 1, "k": 2**10, "kb": 2**10, "m": 2**20, "mb": 2**20, "g": 2**30, "gb": 2**30}


def _bytes(value: Any) -> int | None:
    """compose config writes shm_size in bytes ("1073741824"); a unit (1g, 512m: binary, as Docker reads them)
    is read too, in case an older compose keeps what the file says."""
    if value is None or isinstance(value, bool):
        return None
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", str(value))
    if match is None or match.group(2).lower() not in _SIZE_UNITS:
        return None
    return int(float(match.group(1)) * _SIZE_UNITS[match.group(2).lower()])


def _device(raw: Any) -> Mount:
    if isinstance(raw, dict):  # compose >= 2.30 normalizes devices to {source, target, permissions}
        source = str(raw.get("source", ""))
        return Mount(source=source, target=str(raw.get("target") or source), read_only=False)
    parts = str(raw).split(":")
    return Mount(source=parts[0], target=parts[1] if len(parts) > 1 else parts[0], read_only=False)


def _is_bind(raw: Any) -> bool:
    return not isinstance(raw, dict) or raw.get("type", "bind") == "bind"


def _volume(raw: Any) -> Mount:
    if isinstance(raw, dict):
        return Mount(
            source=str(raw.get("source", "")), target=str(raw.get("target", "")), read_only=bool(raw.get("read_only"))
        )
    parts = str(raw).split(":")
    return Mount(source=parts[0], target=parts[1], read_only=len(parts) > 2 and "ro" in parts[2].split(","))


def _flag_value(command: tuple[str, ...], flag: str) -> str | None:
    for index, arg in enumerate(command):
        if arg == flag and index + 1 < len(command):
            return command[index + 1]
        if arg.startswith(flag + "="):
            return arg.split("=", 1)[1]
    return None


def run_compose(project: Project, *args: str, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    """`docker compose ARGS` in the project; output captured. Raises when compose itself is missing."""
    try:
        return subprocess.run(
            [*project.compose_args(), *args],
            capture_output=True,
            text=True,
            cwd=project.directory,
            timeout=timeout,
            check=False,
        )
    except FileNotFoundError:
        raise AscendgenError("the docker CLI is not installed (Compose v2 is needed: `docker compose`)") from None
