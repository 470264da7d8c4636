"""GPUStack on Ascend: a GPUStack server and the GPUStack workers that join it, as compose files, in two
layouts: GPUStack 2.x as its documentation installs it today (the default), and seed 000's v0.7 layout
(`--gpustack-version 0.7`: a server with its built-in worker on the NPUs, `-npu` images). The vLLM path's
parts, reused: each command's request is a strict record (ascendgen.records) with a flag table (SERVER_FLAGS,
WORKER_FLAGS) that writes and reads its recipe through request.py's `recipe_args` / `parse_recipe`; the
builders are pure (request + hardware in, a frozen `GpustackService` out); rendering uses render.py's Jinja
environment, header and round-trip check; generated.py's `write_deployment` writes the result. Secrets (the
worker token, the admin bootstrap password) go to `.env` and reach the container as `${NAME:?...}`
references, never as text in compose.yml.

GPUStack facts used here, read from github.com/gpustack/gpustack at tag v0.7.1 (2025-08-21, the last v0.7
release; seed 000 ran `latest-npu` on 2025-07-30, which was v0.7.0 then):
- images: .github/workflows/docker-ci.yaml pushes `gpustack/gpustack:<version>`, `v<major>.<minor>` and
  `latest`, each with a suffix per device: `-npu` (CANN_CHIP=910b), `-npu-310p`, `-cpu`, ... No A3 image.
  `<version>` is the git tag as written (metadata-action `type=pep440,pattern={{raw}}`): `v0.7.1-npu`, the
  form GPUStack's maintainers point users to (gpustack#1924: "use the gpustack/gpustack:v0.6.0-npu tag"), and
  users ran v0.7.1's (gpustack#3823: "copied from old 0.7.1-npu version").
  GPUStack 2.x publishes no -npu images any more (gpustack#3486), so `latest-npu` stays at the last v0.7.
- models: downloads go to the cache dir, <data dir>/cache (config.py: cache_dir), inside the data volume;
  the /models mount serves "Local Path" models (docs/user-guide/model-file-management.md). Only a Model File
  given a "Local Directory" under /models would write there.
- `--ipc=host` in every docker run of GPUStack's Ascend install docs (docs/installation/ascend-cann/
  online-installation.md) and of seed 000: the inference engines it starts share memory between processes.
- the image's ENTRYPOINT is `gpustack start` (pack/Dockerfile.npu, pack/Dockerfile.cpu): compose's
  `command` holds only start's flags.
- gpustack/cmd/start.py: `--port`, `--disable-worker`, `--bootstrap-password`, `--server-url`, `--token`;
  every flag defaults to the environment variable `GPUSTACK_<FLAG>` (gpustack/utils/envs.py:
  get_gpustack_env), so GPUSTACK_TOKEN and GPUSTACK_BOOTSTRAP_PASSWORD work without a flag.
- data dir /var/lib/gpustack (config.py get_data_dir); the server writes the worker token to
  <data dir>/token when none is given (config.py prepare_token) and the admin password to
  <data dir>/initial_admin_password when no bootstrap password is given (server.py _init_user, which
  applies a bootstrap password only when the admin user does not exist yet, i.e. on the first start).
- the worker checks `--server-url` with validators.url after stripping a trailing '/' (config.py).

GPUStack 2.x facts, read at tag v2.2.3 (2026-07-28, the newest tag in github.com/gpustack/gpustack; PyPI has
2.3.0 from 2026-10-23, but no v2.3.0 tag or image could be verified, so v2.2.3 is pinned):
- one image for every device: docs/installation/installation.md "GPUStack v2 uses a single unified container
  image for all GPU device types."; .github/workflows/pack.yaml pushes `gpustack/gpustack:v2.2.3` for
  linux/amd64 and linux/arm64, and no -npu image. docs/migration.md: "Since v2.0.0, you no longer need to
  specify the GPU computing platform or version (such as `-cpu`, ...)".
- the server (installation.md): `docker run -d --name gpustack --restart unless-stopped -p 80:80 --volume
  gpustack-data:/var/lib/gpustack gpustack/gpustack`: no NPUs, no host network, not privileged. It runs no
  worker: docs/cli-reference/start.md `--disable-worker`: "(DEPRECATED) ... New installations will not have
  the embedded worker by default." The admin password is in <data dir>/initial_admin_password.
- the Ascend worker (docs/tutorials/running-deepseek-r1-671b-with-distributed-ascend-mindie.md, the only
  Ascend worker command in the v2.2.3 docs; the UI's Add Worker dialog gives the command to use): `--privileged`,
  `--env ASCEND_VISIBLE_DEVICES=...`, `--network host`, `--volume /var/run/docker.sock:/var/run/docker.sock`,
  `--volume gpustack-data:/var/lib/gpustack`, `--volume /path/to/your/model:/path/to/your/model`,
  `--runtime ascend`, then `--server-url ... --token ...`. The worker starts each model in a gpustack/runner
  container through that Docker socket (docs/user-guide/built-in-inference-backends.md), so the socket is
  needed, and with it the worker is root on the host whatever else it is given; the docs give no
  unprivileged or explicit `--device` form, so ascendgen writes the documented one (`--runtime ascend` needs
  the Ascend Docker Runtime on the host: docs/installation/requirements.md). The token is the cluster's
  registration token the UI's Add Worker dialog shows; `--token` still defaults to GPUSTACK_TOKEN (start.py).
- the image's ENTRYPOINT is pack/entrypoint.sh, which hands the container's arguments to `gpustack start`
  (through /run/gpustack/args), so compose's `command` still holds only start's flags; `--bootstrap-password`
  still defaults to GPUSTACK_BOOTSTRAP_PASSWORD (start.py).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from ascendgen.envfile import EnvRef
from ascendgen.errors import AscendgenError, InputError
from ascendgen.hardware import Hardware, Platform, ServerProfile, load_hardware, npu_mounts
from ascendgen.npuset import format_npus
from ascendgen.plans import check_models_dir, resolve_server
from ascendgen.records import After, Record
from ascendgen.render import check_round_trip, header_lines, jinja_environment, with_header
from ascendgen.request import (
    FileLocator,
    Flag,
    Npus,
    parse_recipe,
    rebase,
    recipe_args,
    validate_flags,
)
from ascendgen.yamlfile import Items

__all__ = [
    "BOOTSTRAP_PASSWORD_ENV",
    "CONTAINER_NAME",
    "DEFAULT_IMAGE_TAG",
    "DEFAULT_MODELS_DIR",
    "DEFAULT_PORT",
    "DEFAULT_VERSION",
    "IMAGE_TAGS",
    "PASSWORD_HINT",
    "PORTS",
    "PRIVILEGE_WARNING",
    "SERVER_FLAGS",
    "TOKEN_ENV",
    "TOKEN_HINT",
    "V2_TOKEN_HINT",
    "WORKER_FLAGS",
    "GpustackService",
    "ServerRequest",
    "WorkerRequest",
    "bootstrap_secrets",
    "build",
    "build_server",
    "build_worker",
    "check_secret",
    "check_server_url",
    "recipe_command",
    "render_gpustack",
    "render_recipe",
    "request_from_flags",
    "request_from_recipe",
    "worker_secrets",
]

IMAGE_REPOSITORY = "gpustack/gpustack"
GpustackVersion = Literal["2", "0.7"]
DEFAULT_VERSION: GpustackVersion = "2"
# Pinned, so that the same compose.yml runs the same GPUStack tomorrow (seed 000's `latest-npu` moved)
IMAGE_TAGS: dict[str, str] = {"2": "v2.2.3", "0.7": "v0.7.1"}
DEFAULT_IMAGE_TAG = IMAGE_TAGS[DEFAULT_VERSION]
PORTS: dict[str, int] = {"2": 80, "0.7": 8080}  # 2.x: installation.md's `-p 80:80`; 0.7: seed 000's --port 8080
DEFAULT_PORT = PORTS[DEFAULT_VERSION]
SERVER_CONTAINER_PORT = 80  # 2.x: the server listens on 80 in its container (installation.md)
DOCKER_SOCKET = "/var/run/docker.sock"
ASCEND_RUNTIME = "ascend"  # the Ascend Docker Runtime's docker runtime name (`--runtime ascend`)
DEFAULT_MODELS_DIR = "/models"  # as `ascendgen plan`; seed 000 mounted /data/models (--models-dir /data/models)
MODELS_TARGET = "/models"
CONTAINER_NAME = "gpustack"  # seed 000's --name, which the token hint's `docker exec` relies on
DATA_VOLUME = "gpustack-data"  # seed 000: named volume, created by docker on first use
DATA_DIR = "/var/lib/gpustack"
TOKEN_ENV = "GPUSTACK_TOKEN"
BOOTSTRAP_PASSWORD_ENV = "GPUSTACK_BOOTSTRAP_PASSWORD"
TOKEN_HINT = f"docker exec -it {CONTAINER_NAME} cat {DATA_DIR}/token"  # 0.7
V2_TOKEN_HINT = "the GPUStack UI's Workers page: Add Worker shows the token in the command it gives"
PASSWORD_HINT = f"docker exec -it {CONTAINER_NAME} cat {DATA_DIR}/initial_admin_password"
# In every 2.x file: a file written before --gpustack-version (always v0.7) now drifts, and `check`'s diff says why
V2_NOTE = "GPUStack 2.x layout; a file written for GPUStack v0.7 keeps its layout with --gpustack-version 0.7."
PRIVILEGE_WARNING = (
    f"the GPUStack 2.x worker runs privileged with the host's Docker socket ({DOCKER_SOCKET}) mounted: that is "
    "root on this host. GPUStack's documented Ascend worker needs both to start its inference containers."
)
# Image tag suffix per ascendgen platform (docker-ci.yaml at v0.7.1: CANN_CHIP=910b -> -npu, 310p -> -npu-310p).
NPU_IMAGE_SUFFIX = {"a2": "-npu", "310p": "-npu-310p"}
CPU_IMAGE_SUFFIX = "-cpu"

_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,119}$")  # docker's tag grammar, leaving room for a suffix
# `.env` values are read by compose's dotenv parser, which expands `$`, cuts ` #comments` and unquotes:
# a secret with such characters would reach the container changed.
_ENV_UNSAFE = re.compile(r"[\s$#'\"`\\]")

Role = Literal["server", "worker"]


def tag_of(request: GpustackRequest) -> str:
    return request.image_tag or IMAGE_TAGS[request.gpustack_version]


def _check_version_tag(version: str, tag: str | None) -> None:
    """A tag of the other layout would run an image the layout does not fit (0.7's have a device suffix)."""
    if tag is None:
        return
    if version == "2" and re.match(r"^v?0\.", tag):
        raise ValueError(f"--image-tag {tag} is a GPUStack 0.x release: add --gpustack-version 0.7, or drop it")
    if version == "0.7" and re.match(r"^v?[1-9]", tag):
        raise ValueError(f"--image-tag {tag} is not a GPUStack 0.x release: drop --gpustack-version 0.7")


def _check_tag(tag: str) -> str:
    if not _TAG.match(tag):
        raise ValueError(f"--image-tag '{tag}': a docker tag like 'latest' or 'v0.7.1'")
    return tag


def _check_models_dir(path: str) -> str:
    try:
        return check_models_dir(path)  # the same rule as `plan`
    except InputError as exc:
        raise ValueError(str(exc)) from None


ImageTag = Annotated[str, After(_check_tag)]
ModelsDir = Annotated[str, After(_check_models_dir)]


def _tcp_port(port: int) -> int:
    if not 1 <= port <= 65535:
        raise ValueError(f"--port {port}: a TCP port is 1-65535")
    return port


def _url(url: str) -> str:
    try:
        return check_server_url(url)
    except InputError as exc:
        raise ValueError(str(exc)) from None


@dataclass(frozen=True, kw_only=True)
class ServerRequest(Record):
    """What the user chose for `ascendgen gpustack server`: the recipe compose.yml is regenerated from."""

    gpustack_version: GpustackVersion = DEFAULT_VERSION
    npus: Npus | None = None  # None: every NPU of the server profile
    image_tag: ImageTag | None = None  # None: the version's pinned tag
    models_dir: ModelsDir | None = None  # 0.7 only; None: DEFAULT_MODELS_DIR
    port: Annotated[int, After(_tcp_port)] | None = None  # None: the version's port (PORTS)
    cpu_only: bool = False
    bootstrap_password: bool = False  # the container takes GPUSTACK_BOOTSTRAP_PASSWORD from .env
    server: str | None = None
    hardware_files: Items[str] = ()

    def _check(self) -> None:
        if self.cpu_only and (self.npus is not None or self.server is not None or self.hardware_files):
            raise ValueError("--cpu-only runs no worker and uses no NPUs: drop --npus, --server and --hardware")
        if self.gpustack_version == "2":
            given = [
                flag
                for flag, value in (
                    ("--cpu-only", self.cpu_only),
                    ("--npus", self.npus is not None),
                    ("--server", self.server is not None),
                    ("--hardware", bool(self.hardware_files)),
                    ("--models-dir", self.models_dir is not None),
                )
                if value
            ]
            if given:
                raise ValueError(
                    f"{', '.join(given)}: the GPUStack 2.x server runs no worker and uses no NPUs or models "
                    "(its workers do); drop them, or add --gpustack-version 0.7 for the v0.7 layout"
                )
        _check_version_tag(self.gpustack_version, self.image_tag)


@dataclass(frozen=True, kw_only=True)
class WorkerRequest(Record):
    """What the user chose for `ascendgen gpustack worker`. The token is not part of it: whether it came as
    `--token` (now in .env) or comes from the environment, compose.yml is the same, and the recipe always says
    `--token-from-env`, so that it holds no secret."""

    gpustack_version: GpustackVersion = DEFAULT_VERSION
    npus: Npus | None = None
    server_url: Annotated[str, After(_url)]
    image_tag: ImageTag | None = None  # None: the version's pinned tag
    models_dir: ModelsDir = DEFAULT_MODELS_DIR
    server: str | None = None
    hardware_files: Items[str] = ()
    token_from_env: Literal[True] = True

    def _check(self) -> None:
        _check_version_tag(self.gpustack_version, self.image_tag)


GpustackRequest = ServerRequest | WorkerRequest

# Each command's options as its recipe records them, in the order it writes them (request.py's Flag).
SERVER_FLAGS: tuple[Flag, ...] = (
    Flag("--gpustack-version", "gpustack_version"),
    Flag("--cpu-only", "cpu_only", switch=True),
    Flag("--server", "server"),
    Flag("--npus", "npus", npus=True),
    Flag("--port", "port", number=int),
    Flag("--image-tag", "image_tag"),
    Flag("--models-dir", "models_dir"),
    Flag("--bootstrap-password-from-env", "bootstrap_password", switch=True),
    Flag("--hardware", "hardware_files", repeated=True, path=True),
)
WORKER_FLAGS: tuple[Flag, ...] = (
    Flag("--server-url", "server_url"),
    Flag("--gpustack-version", "gpustack_version"),
    Flag("--server", "server"),
    Flag("--npus", "npus", npus=True),
    Flag("--image-tag", "image_tag"),
    Flag("--models-dir", "models_dir"),
    Flag("--token-from-env", "token_from_env", switch=True),
    Flag("--hardware", "hardware_files", repeated=True, path=True),
)
_COMMANDS: dict[str, tuple[type[GpustackRequest], tuple[Flag, ...]]] = {
    "server": (ServerRequest, SERVER_FLAGS),
    "worker": (WorkerRequest, WORKER_FLAGS),
}


def request_from_flags(command: Literal["server", "worker"], given: Mapping[str, object]) -> GpustackRequest:
    """A command's flags (fields of its request, as typed; None: not given) as its request."""
    model, flags = _COMMANDS[command]
    return validate_flags(model, {name: value for name, value in given.items() if value is not None}, flags)


def recipe_command(request: GpustackRequest, *, relative_to: Path | None = None) -> str:
    """The canonical `ascendgen gpustack server|worker ...` line (the table's order, defaults left out, no
    secrets), with file paths relative to `relative_to` (the directory compose.yml is written to)."""
    command = "server" if isinstance(request, ServerRequest) else "worker"
    flags = _COMMANDS[command][1]
    return shlex.join(["ascendgen", "gpustack", command, *recipe_args(request, flags, relative_to=relative_to)])


def request_from_recipe(args: Sequence[str], base: Path, locate: FileLocator | None = None) -> GpustackRequest:
    """A recorded `ascendgen gpustack server|worker ...` line (every word) back as its request, file paths
    taken relative to `base` (the compose file's directory), or found by `locate` (flag, path as recorded)."""
    line = shlex.join(args)
    if list(args[:2]) != ["ascendgen", "gpustack"] or len(args) < 3 or args[2] not in _COMMANDS:
        raise InputError(f"not an 'ascendgen gpustack server|worker' recipe: {line}")
    model, flags = _COMMANDS[args[2]]
    find = locate or (lambda _flag, path: rebase(path, base))
    arguments, given = parse_recipe(args[3:], flags, recipe=f"recipe '{line}'", locate=find)
    if arguments:
        raise InputError(f"recipe '{line}': unexpected argument {arguments[0]!r}")
    if model is WorkerRequest and "server_url" not in given:
        raise InputError(f"recipe '{line}': --server-url is missing")
    return validate_flags(model, given, flags)


def render_recipe(args: Sequence[str], base: Path, locate: FileLocator | None = None) -> str:
    """compose.yml as a recorded `ascendgen gpustack server|worker ...` line writes it today (for `check`):
    recorded recipes hold no secrets, so nothing is read from .env or written."""
    request = request_from_recipe(args, base, locate)
    service = build(request, load_hardware([Path(path) for path in request.hardware_files]))
    return render_gpustack(service, regenerate=recipe_command(request, relative_to=base))


@dataclass(frozen=True)
class GpustackService:
    """One GPUStack container, every value final: the template only lays it out."""

    role: Role
    name: str
    container_name: str
    image: str
    ipc_host: bool
    devices: tuple[str, ...]
    volumes: tuple[str, ...]
    environment: tuple[tuple[str, EnvRef | str], ...]  # an EnvRef comes from .env, a str is written as it is
    command_lines: tuple[tuple[str, ...], ...]  # `gpustack start` flags, one flag (with its value) per line
    data_volume: str
    summary: str  # one header line saying what this is
    network_host: bool = True
    ports: tuple[str, ...] = ()
    privileged: bool = False
    runtime: str | None = None
    token_hint: str = TOKEN_HINT
    notes: tuple[str, ...] = ()  # more header lines

    @property
    def command(self) -> list[str]:
        return [arg for line in self.command_lines for arg in line]

    def planned(self) -> dict[str, object]:
        """What compose must read back from the rendered service (render.check_round_trip)."""
        return {
            "image": self.image,
            "container_name": self.container_name,
            "devices": list(self.devices),
            "volumes": list(self.volumes),
            "command": self.command,
            "environment": {name: str(ref) for name, ref in self.environment},
            "network_mode": "host" if self.network_host else None,
            "ports": list(self.ports),
            "privileged": True if self.privileged else None,
            "runtime": self.runtime,
        }


# ---- validation ---------------------------------------------------------------------------------------------


def check_server_url(url: str) -> str:
    """An http(s) URL GPUStack's worker accepts, without the trailing '/' GPUStack strips anyway."""
    problem = f"--server-url '{url}': expected the GPUStack server's http(s) URL, e.g. http://172.16.33.106:8080"
    if not url or any(c.isspace() or not c.isprintable() for c in url):
        raise InputError(problem)
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        raise InputError(problem) from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.query
        or parts.fragment
        or parts.username is not None
        or url.count("://") != 1
        or port == 0
    ):
        raise InputError(problem)
    return url.rstrip("/")


def check_secret(name: str, value: str, flag: str) -> str:
    if not value:
        raise InputError(f"{flag}: empty")
    if _ENV_UNSAFE.search(value) or not value.isprintable():
        raise InputError(
            f"{flag}: spaces, quotes, '$', '#' and '\\' would be changed by docker compose's .env parser; "
            f"choose a {name} without them"
        )
    return value


def _npus_on(profile: ServerProfile, npus: tuple[int, ...] | None) -> tuple[int, ...]:
    if npus is None:
        return tuple(range(profile.npu_count))
    if not npus:
        raise InputError("--npus: no NPUs given")
    outside = [i for i in npus if i >= profile.npu_count]
    if outside:
        raise InputError(
            f"--npus {format_npus(npus)}: {profile.name} has NPUs 0-{profile.npu_count - 1}, not {format_npus(outside)}"
        )
    return npus


# ---- the pure builders --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _NpuHost:
    profile: ServerProfile
    npu_type: str
    platform: Platform
    npus: tuple[int, ...]


def _npu_host(hardware: Hardware, server: str | None, npus: tuple[int, ...] | None, *, v07: bool = True) -> _NpuHost:
    profile = resolve_server(hardware, server, None)
    npu_type = hardware.npu_type(profile.npu_type)
    platform = hardware.platform(npu_type.platform)
    # 2.x's one image runs on 910B, 910C and 310P3 alike (docs/installation/requirements.md at v2.2.3)
    if v07 and platform.name not in NPU_IMAGE_SUFFIX:
        known = ", ".join(f"{name} ({suffix})" for name, suffix in NPU_IMAGE_SUFFIX.items())
        raise InputError(
            f"GPUStack publishes no image for {npu_type.name} (platform {platform.name}); its NPU images are "
            f"for platforms {known}"
        )
    return _NpuHost(profile, npu_type.name, platform, _npus_on(profile, npus))


def _npu_service(
    role: Role,
    host: _NpuHost,
    *,
    image_tag: str,
    models_dir: str,
    environment: tuple[tuple[str, EnvRef | str], ...],
    command_lines: tuple[tuple[str, ...], ...],
    summary: str,
) -> GpustackService:
    """A GPUStack container that runs a worker on this host's NPUs (the server's built-in one, or a worker)."""
    devices, driver = npu_mounts(host.profile, host.platform, host.npus)
    return GpustackService(
        role=role,
        name=CONTAINER_NAME,
        container_name=CONTAINER_NAME,
        image=f"{IMAGE_REPOSITORY}:{image_tag}{NPU_IMAGE_SUFFIX[host.platform.name]}",
        ipc_host=True,
        devices=devices,
        volumes=(*driver, *_shared_volumes(models_dir)),
        environment=environment,
        command_lines=command_lines,
        data_volume=DATA_VOLUME,
        summary=summary,
    )


def _shared_volumes(models_dir: str) -> tuple[str, ...]:
    # The models read-only, as for `plan`: GPUStack downloads into its cache in the data volume, and reads
    # /models only for Local Path models. A Model File downloaded to a Local Directory under /models needs it
    # writable: mount it again without :ro in compose.override.yml (compose merges volumes by target).
    return (f"{models_dir}:{MODELS_TARGET}:ro", f"{DATA_VOLUME}:{DATA_DIR}")


def build(request: GpustackRequest, hardware: Hardware) -> GpustackService:
    if isinstance(request, ServerRequest):
        return build_server(request, hardware)
    return build_worker(request, hardware)


def build_server(request: ServerRequest, hardware: Hardware) -> GpustackService:
    environment: tuple[tuple[str, EnvRef | str], ...] = (
        ((BOOTSTRAP_PASSWORD_ENV, EnvRef(BOOTSTRAP_PASSWORD_ENV)),) if request.bootstrap_password else ()
    )
    port = request.port or PORTS[request.gpustack_version]
    if request.gpustack_version == "2":
        return GpustackService(
            role="server",
            name=CONTAINER_NAME,
            container_name=CONTAINER_NAME,  # installation.md's --name, which `docker exec` hints rely on
            image=f"{IMAGE_REPOSITORY}:{tag_of(request)}",
            ipc_host=False,
            devices=(),
            volumes=(f"{DATA_VOLUME}:{DATA_DIR}",),
            environment=environment,
            command_lines=(),
            data_volume=DATA_VOLUME,
            summary=f"GPUStack {tag_of(request)} server (no worker, no NPUs), UI and API on port {port}",
            network_host=False,
            ports=(f"{port}:{SERVER_CONTAINER_PORT}",),
            token_hint=V2_TOKEN_HINT,
            notes=(V2_NOTE, f"The admin password (user admin): {PASSWORD_HINT}"),
        )
    port_line = ("--port", str(port))
    models_dir = request.models_dir or DEFAULT_MODELS_DIR
    if request.cpu_only:
        return GpustackService(
            role="server",
            name=CONTAINER_NAME,
            container_name=CONTAINER_NAME,
            image=f"{IMAGE_REPOSITORY}:{tag_of(request)}{CPU_IMAGE_SUFFIX}",
            ipc_host=False,  # no inference runs here, so no shared memory with the host
            devices=(),
            volumes=_shared_volumes(models_dir),
            environment=environment,
            command_lines=(port_line, ("--disable-worker",)),
            data_volume=DATA_VOLUME,
            summary=f"GPUStack management server without a worker (CPU image, no NPUs), port {port}",
        )
    host = _npu_host(hardware, request.server, request.npus)
    return _npu_service(
        "server",
        host,
        image_tag=tag_of(request),
        models_dir=models_dir,
        environment=environment,
        command_lines=(port_line,),
        summary=(
            f"GPUStack server with its built-in worker on {host.npu_type} NPUs {format_npus(host.npus)} "
            f"({host.profile.name}), port {port}"
        ),
    )


def build_worker(request: WorkerRequest, hardware: Hardware) -> GpustackService:
    server_url = request.server_url
    if request.gpustack_version == "2":
        return _v2_worker(request, hardware)
    host = _npu_host(hardware, request.server, request.npus)
    return _npu_service(
        "worker",
        host,
        image_tag=tag_of(request),
        models_dir=request.models_dir,
        # GPUStack reads GPUSTACK_TOKEN like --token (start.py); the environment keeps it out of `ps` too
        environment=((TOKEN_ENV, EnvRef(TOKEN_ENV)),),
        command_lines=(("--server-url", server_url),),
        summary=(
            f"GPUStack worker on {host.npu_type} NPUs {format_npus(host.npus)} ({host.profile.name}), "
            f"joining {server_url}"
        ),
    )


def _v2_worker(request: WorkerRequest, hardware: Hardware) -> GpustackService:
    """The Ascend worker of GPUStack 2.x's docs: privileged, the Ascend Docker Runtime giving it the NPUs that
    ASCEND_VISIBLE_DEVICES names, the host's Docker socket to start runner containers, host network."""
    host = _npu_host(hardware, request.server, request.npus, v07=False)
    if host.profile.host_root.rstrip("/"):
        # the Ascend Docker Runtime mounts the devices itself, from the host the engine runs on
        raise InputError(
            f"--server {host.profile.name}: its host_root ({host.profile.host_root}) cannot apply to GPUStack 2.x, "
            "whose devices the Ascend Docker Runtime mounts; use --gpustack-version 0.7, or a profile without it"
        )
    return GpustackService(
        role="worker",
        name=CONTAINER_NAME,
        container_name=CONTAINER_NAME,
        image=f"{IMAGE_REPOSITORY}:{tag_of(request)}",
        ipc_host=False,
        devices=(),
        volumes=(
            f"{DOCKER_SOCKET}:{DOCKER_SOCKET}",
            f"{DATA_VOLUME}:{DATA_DIR}",
            # the docs mount the model directory at its own path: the runner containers the worker starts
            # through the host's Docker name host paths
            f"{request.models_dir}:{request.models_dir}:ro",
        ),
        environment=(
            ("ASCEND_VISIBLE_DEVICES", ",".join(str(i) for i in host.npus)),
            (TOKEN_ENV, EnvRef(TOKEN_ENV)),
        ),
        command_lines=(("--server-url", request.server_url),),
        data_volume=DATA_VOLUME,
        summary=(
            f"GPUStack {tag_of(request)} worker on {host.npu_type} NPUs {format_npus(host.npus)} "
            f"({host.profile.name}), joining {request.server_url}"
        ),
        privileged=True,
        runtime=ASCEND_RUNTIME,
        token_hint=V2_TOKEN_HINT,
        notes=(
            V2_NOTE,
            "Privileged, with the host's Docker socket: root on this host (GPUStack starts its inference "
            "containers itself).",
            "Needs the Ascend Docker Runtime on this host (`docker info | grep ascend`).",
        ),
    )


# ---- secrets ------------------------------------------------------------------------------------------------


def worker_secrets(
    token: str | None, *, token_from_env: bool, env_file: Mapping[str, str], hint: str = TOKEN_HINT
) -> dict[str, str]:
    """What to put in .env for a worker: the `--token` given, or nothing when the token is to come from the
    environment (`--token-from-env`) or .env holds one already; otherwise refuse, saying where to get it."""
    if token is not None and token_from_env:
        raise InputError("--token and --token-from-env: give one of them")
    if token is not None:
        return {TOKEN_ENV: check_secret("token", token, "--token")}
    if token_from_env or env_file.get(TOKEN_ENV):
        return {}
    raise InputError(
        f"the worker needs the server's token: pass --token TOKEN (from {hint}), or "
        f"--token-from-env to set {TOKEN_ENV} when compose starts"
    )


def bootstrap_secrets(
    password: str | None, *, generate: bool, from_env: bool, env_file: Mapping[str, str], new_secret: Callable[[], str]
) -> dict[str, str]:
    """What to put in .env for the admin's bootstrap password. A generated one never replaces one .env holds:
    GPUStack applies it only on the first start, so the old one may be in use already."""
    if sum([password is not None, generate, from_env]) > 1:
        raise InputError("--bootstrap-password, --generate-password and --bootstrap-password-from-env: give one")
    if password is not None:
        return {BOOTSTRAP_PASSWORD_ENV: check_secret("password", password, "--bootstrap-password")}
    if generate and not env_file.get(BOOTSTRAP_PASSWORD_ENV):
        return {BOOTSTRAP_PASSWORD_ENV: new_secret()}
    return {}


# ---- rendering ----------------------------------------------------------------------------------------------


def render_gpustack(service: GpustackService, *, regenerate: str) -> str:
    notes = [service.summary, *service.notes]
    for name, value in service.environment:
        if isinstance(value, EnvRef):
            notes.append(f"{name} comes from .env beside this file (or the shell); it is never written here.")
    if service.role == "worker":
        where = "Get the token on the GPUStack server: " if service.token_hint == TOKEN_HINT else "Get the token: "
        notes.append(where + service.token_hint)
    body = jinja_environment().get_template("gpustack.yml.j2").render(svc=service).strip("\n") + "\n"
    text = with_header(header_lines(regenerate, notes), body)
    parsed = check_round_trip(text, [service])
    if parsed.get("volumes") != {service.data_volume: {"name": service.data_volume}}:
        raise AscendgenError("internal error: the data volume is not declared")
    return text
