"""Running a deployment: `docker compose` for up/down (so compose.override.yml and compose's own change
detection apply), the docker SDK to inspect containers, the API to know when a model is ready."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ascendgen.composeconfig import ComposeConfig, Project, ServiceConfig, run_compose
from ascendgen.diagnose import Diagnosis, diagnose
from ascendgen.endpoint import is_healthy, served_models
from ascendgen.errors import AscendgenError
from ascendgen.observations import PlannedMemory, planned_memory
from ascendgen.vllmlog import StartupNumbers, read_startup

LOG_TAIL_LINES = 30  # what `up` shows of a failed container's log
# What a diagnosis reads of a log: all of it, up to its last 16 MiB and 200,000 lines. A failed start is far
# smaller; a long-running server's failure is at its end; the rules scan 16 MiB in about a second.
MAX_LOG_BYTES = 16 * 2**20
MAX_LOG_LINES = 200_000
# `up` polls the containers and the API after a short first wait, doubling up to POLL_SECONDS: a model that
# answers (or a container that fails) is seen within one poll interval, at most POLL_SECONDS, so `up` returns
# well within a second of the API answering (bench/bench_up.py), and a long load costs two polls a second.
FIRST_POLL_SECONDS = 0.1
POLL_SECONDS = 0.5
# A container that restarted this often is in a restart loop, whatever its log says.
RESTART_LOOP = 2


@dataclass(frozen=True)
class ContainerState:
    service: str
    container_id: str | None
    container_name: str | None
    status: str  # running, exited, restarting, created, missing, ...
    health: str | None  # healthy, unhealthy, starting, or None without a healthcheck
    exit_code: int | None
    restart_count: int
    started_at: datetime | None

    @property
    def uptime_s(self) -> float | None:
        if self.status != "running" or self.started_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.started_at).total_seconds())


def container_states(client: Any, config: ComposeConfig, services: list[ServiceConfig]) -> dict[str, ContainerState]:
    found: dict[str, Any] = {}
    for container in client.containers.list(
        all=True, filters={"label": f"com.docker.compose.project={config.project_name}"}
    ):
        found[container.labels.get("com.docker.compose.service", "")] = container
    states = {}
    for service in services:
        container = found.get(service.name)
        states[service.name] = _state(service.name, container)
    return states


def _state(service: str, container: Any | None) -> ContainerState:
    if container is None:
        return ContainerState(service, None, None, "missing", None, None, 0, None)
    attrs = container.attrs or {}
    state = attrs.get("State") or {}
    health = (state.get("Health") or {}).get("Status")
    started_at = _docker_time(state.get("StartedAt"))
    return ContainerState(
        service=service,
        container_id=container.id,
        container_name=container.name,
        status=str(state.get("Status", container.status)),
        health=health,
        exit_code=state.get("ExitCode"),
        restart_count=int(attrs.get("RestartCount", 0)),
        started_at=started_at,
    )


def _docker_time(value: str | None) -> datetime | None:
    """Docker's RFC 3339 times carry nanoseconds; Python reads at most microseconds."""
    if not value or value.startswith("0001-"):
        return None
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(trimmed)
    except ValueError:
        return None


def _compose_attached(project: Project, *args: str) -> int:
    """`docker compose ARGS` with its output on the user's terminal (progress bars, logs); the exit code."""
    try:
        return subprocess.call([*project.compose_args(), *args], cwd=project.directory)
    except FileNotFoundError:
        raise AscendgenError("the docker CLI is not installed (Compose v2 is needed: `docker compose`)") from None


def compose_pull(project: Project, services: list[str], images: list[str]) -> None:
    """Pull the services' images, with compose's own progress on the terminal."""
    if _compose_attached(project, "pull", *services):
        raise AscendgenError(f"docker compose pull failed for {', '.join(images)}")


def compose_logs(project: Project, services: list[str], *, tail: str, follow: bool) -> int:
    """Print the services' logs (all services when none are named); compose's exit code."""
    return _compose_attached(project, "logs", "--tail", tail, *(["--follow"] if follow else []), *services)


def compose_down(project: Project) -> None:
    code = _compose_attached(project, "down")
    if code:
        raise AscendgenError(f"docker compose down failed (exit {code})")


@dataclass(frozen=True)
class UpOutcome:
    created: list[str]  # services whose container this `up` made (new or recreated)
    unchanged: list[str]  # services already running as the compose file says
    new_container_ids: list[str]


def compose_up(client: Any, project: Project, config: ComposeConfig, services: list[ServiceConfig]) -> UpOutcome:
    before = container_states(client, config, services)
    done = run_compose(project, "up", "-d", "--no-build", "--pull", "never", *[s.name for s in services])
    after = container_states(client, config, services)
    new_ids = [
        state.container_id
        for name, state in after.items()
        if state.container_id and state.container_id != before[name].container_id
    ]
    if done.returncode != 0:
        message = (done.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise UpFailed(f"docker compose up failed: {message}", new_container_ids=new_ids)
    created = [name for name, state in after.items() if state.container_id != before[name].container_id]
    restarted = [name for name, state in after.items() if name not in created and before[name].status != "running"]
    unchanged = [name for name in after if name not in created and name not in restarted]
    return UpOutcome(created=created + restarted, unchanged=unchanged, new_container_ids=new_ids)


class UpFailed(AscendgenError):
    def __init__(self, message: str, *, new_container_ids: list[str]) -> None:
        super().__init__(message)
        self.new_container_ids = new_container_ids


@dataclass(frozen=True)
class Failure:
    service: str
    reason: str
    log_tail: str
    diagnosis: Diagnosis | None


@dataclass(frozen=True)
class Progress:
    elapsed_s: float
    states: dict[str, ContainerState]
    ready: dict[str, bool]


def wait_until_ready(
    client: Any,
    config: ComposeConfig,
    services: list[ServiceConfig],
    *,
    timeout_s: float,
    on_progress: Callable[[Progress], None] = lambda _: None,
) -> tuple[float, list[Failure]]:
    """Poll until every service's /v1/models lists its served model, or something fails. Returns the
    seconds it took and the failures (empty when all are ready)."""
    started = time.monotonic()
    ready: dict[str, bool] = {s.name: False for s in services}
    delay = FIRST_POLL_SECONDS
    while True:
        elapsed = time.monotonic() - started
        states = container_states(client, config, services)
        failures = []
        for service in services:
            if ready[service.name]:
                continue
            state = states[service.name]
            reason = _failed(state)
            if reason is None:
                ready[service.name] = is_ready(service, state)
            if reason is None and not ready[service.name] and elapsed > timeout_s:
                reason = f"not ready after {timeout_s:g} s (its /v1/models does not list {service.served_model_name})"
            if reason is not None:
                failures.append(_failure(client, service, state, reason))
        on_progress(Progress(elapsed, states, dict(ready)))
        if failures or all(ready.values()):
            return elapsed, failures
        time.sleep(delay)
        delay = min(2 * delay, POLL_SECONDS)


def is_ready(service: ServiceConfig, state: ContainerState) -> bool:
    """The API lists the served model (a gateway: every model it routes) and its health path answers 200; a
    service without an API (a Ray worker) is ready once its container runs and its health check, if any, does
    not fail."""
    if service.port is None:
        return state.status == "running" and state.health in (None, "healthy")
    models = served_models(service.port, api_key=service.api_key)
    listed = models is not None and bool(service.served_names) and all(n in models for n in service.served_names)
    return listed and is_healthy(service.port, path=service.health_path)


def _failed(state: ContainerState) -> str | None:
    if state.status == "missing":
        return "its container is gone"
    if state.status in ("exited", "dead"):
        return f"its container exited with code {state.exit_code}"
    if state.restart_count >= RESTART_LOOP or (state.status == "restarting" and state.restart_count >= 1):
        return f"its container restarts in a loop ({state.restart_count} restarts)"
    if state.health == "unhealthy":
        return "its health check fails (/health does not answer 200)"
    return None


def _failure(client: Any, service: ServiceConfig, state: ContainerState, reason: str) -> Failure:
    # the whole log for the diagnosis (the cause is often far above the last lines), its tail for the user
    log = container_log(client, state.container_id).text if state.container_id else ""
    return Failure(
        service=service.name,
        reason=reason,
        log_tail=last_lines(log, LOG_TAIL_LINES),
        diagnosis=diagnose(log, service.model_facts),
    )


@dataclass(frozen=True)
class LogText:
    text: str
    truncated: bool  # only the end of a longer log


def container_log(
    client: Any, container_id: str, max_bytes: int = MAX_LOG_BYTES, max_lines: int = MAX_LOG_LINES
) -> LogText:
    """A container's log as `docker logs` shows it (stdout and stderr), streamed so that at most the last
    `max_bytes` of it are kept; empty when the container or its log cannot be read."""
    kept = bytearray()
    lines = 0
    cut = False
    try:
        # follow=False: with stream=True the SDK follows a running container's log until it stops
        for chunk in client.containers.get(container_id).logs(stream=True, follow=False, tail=max_lines):
            kept += chunk
            lines += chunk.count(b"\n")
            if len(kept) > 2 * max_bytes:
                del kept[: len(kept) - max_bytes]
                cut = True
    except Exception:
        return LogText("", False)
    return bounded_text(bytes(kept), max_bytes, cut or lines >= max_lines)


def bounded_text(data: bytes, max_bytes: int, cut: bool = False) -> LogText:
    """The last `max_bytes` of a log as text, from the first whole line when the start was cut."""
    if len(data) > max_bytes:
        data, cut = data[len(data) - max_bytes :], True
    if cut and b"\n" in data:
        data = data[data.index(b"\n") + 1 :]
    return LogText(data.decode("utf-8", errors="replace"), cut)


def last_lines(text: str, count: int) -> str:
    return "\n".join(text.splitlines()[-count:])


def remove_containers(client: Any, container_ids: list[str]) -> list[str]:
    """Remove exactly these containers (what one `up` created); returns the names removed."""
    removed = []
    for container_id in container_ids:
        try:
            container = client.containers.get(container_id)
            container.remove(force=True)
            removed.append(container.name)
        except Exception:
            continue
    return removed


# The line after which vLLM's start-up numbers are all logged: the API server starts listening
# (vllm/entrypoints/openai/api_server.py: "Starting vLLM API server 0 on http://...").
_SERVING = re.compile(rb"Starting vLLM API server|Application startup complete")
STARTUP_LOG_BYTES = 4 * 2**20


def startup_log(client: Any, container_id: str, since: datetime | None, max_bytes: int = STARTUP_LOG_BYTES) -> str:
    """The beginning of a container's log since it last (re)started, up to the line saying the API serves:
    where vLLM logs what it measured. Read from the start and stopped early, so a server that has logged
    for weeks costs no more than one that just started; empty when the log cannot be read."""
    kept = bytearray()
    try:
        stream = client.containers.get(container_id).logs(stream=True, follow=False, since=since)
        for chunk in stream:
            kept += chunk
            if len(kept) >= max_bytes or _SERVING.search(kept, max(0, len(kept) - len(chunk) - 64)):
                break
        close = getattr(stream, "close", None)
        if close is not None:
            close()
    except Exception:
        return ""
    return bytes(kept[:max_bytes]).decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Measured:
    """A service's plan next to what its latest start logged."""

    service: ServiceConfig
    state: ContainerState
    planned: PlannedMemory | None  # None: a compose file without ascendgen's memory labels
    numbers: StartupNumbers


def measure_services(client: Any, model: ComposeConfig, services: list[ServiceConfig]) -> list[Measured]:
    """What vLLM logged at the latest start of each service that serves an API (a Ray worker logs nothing of
    the KV cache; its head does), beside the plan the container was started with (its labels; compose.yml's
    when the container has none)."""
    states = container_states(client, model, services)
    found = []
    for service in services:
        if service.port is None:
            continue
        state = states[service.name]
        log = startup_log(client, state.container_id, state.started_at) if state.container_id else ""
        planned = planned_memory(_labels(client, state.container_id)) or planned_memory(service.labels)
        found.append(Measured(service, state, planned, read_startup(log)))
    return found


def _labels(client: Any, container_id: str | None) -> dict[str, str]:
    if container_id is None:
        return {}
    try:
        return dict(client.containers.get(container_id).labels or {})
    except Exception:
        return {}
