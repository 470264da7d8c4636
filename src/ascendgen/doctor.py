"""`ascendgen doctor`: is this host ready to run vLLM on Ascend NPUs? One small check per concern, each
returning one CheckRow (what was found, and the fix when it is not ok); nothing here prints.

Every host path comes from the platform in hardware.yaml and is looked up under the server profile's
`host_root` ("/" on a real server), so a profile can point the checks at a host filesystem mounted
elsewhere, or at a fake NPU host in tests. The docker client is passed in (None when the engine could not
be reached), so the checks stay testable without one."""

from __future__ import annotations

import json
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ascendgen.composeconfig import compose_available
from ascendgen.driver import check_driver_for_image, read_driver_version
from ascendgen.errors import first_line
from ascendgen.hardware import Platform, ServerProfile
from ascendgen.npuset import format_npus
from ascendgen.npusmi import INFO_TIMEOUT_S, NPU_SMI, NpuSmiFailed, find_npu_smi, npu_smi_info, parse_processes

__all__ = [
    "CheckRow",
    "Status",
    "check_compose_v2",
    "check_docker_runtime",
    "check_driver",
    "check_driver_image",
    "check_engine",
    "check_models_dir",
    "check_npu_devices",
    "check_npu_smi",
    "on_host",
    "run_doctor",
]

Status = Literal["ok", "warning", "error"]

# Where the Ascend driver installer puts it (Ascend HDK installation guide; the seeds mount it).
DRIVER_VERSION_INFO = "/usr/local/Ascend/driver/version.info"
# Ascend Docker Runtime's install directory; it registers itself in daemon.json as the runtime "ascend"
# (gitee.com/ascend/ascend-docker-runtime, README: installation).
ASCEND_DOCKER_RUNTIME_DIR = "/usr/local/Ascend/Ascend-Docker-Runtime"
ASCEND_RUNTIME_NAME = "ascend"
ENGINE_TIMEOUT_S = 10  # per call of the client doctor asks: a host check should not wait 30 s for an engine


@dataclass(frozen=True)
class CheckRow:
    """One line of the diagnosis: `fix` is None when nothing needs doing."""

    check: str
    status: Status
    detail: str
    fix: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"check": self.check, "status": self.status, "detail": self.detail, "fix": self.fix}


def run_doctor(
    client: Any | None,
    *,
    server: ServerProfile,
    platform: Platform,
    models_dir: Path,
    engine_reason: str | None = None,
    npu_smi_timeout_s: float = INFO_TIMEOUT_S,
    image: str | None = None,
) -> list[CheckRow]:
    """Every check, in the order a user fixes them: engine, compose, NPUs, driver (and the image it must run:
    `image`, else the one `plan` picks), npu-smi, runtime, models."""
    return [
        check_engine(client, engine_reason),
        check_compose_v2(),
        check_npu_devices(server, platform),
        check_driver(server, platform),
        check_driver_image(server, platform, image),
        check_npu_smi(server, platform, timeout_s=npu_smi_timeout_s),
        check_docker_runtime(client, server),
        check_models_dir(models_dir),
    ]


# ---------------------------------------------------------------------------------------------- docker


def check_engine(client: Any | None, reason: str | None = None) -> CheckRow:
    name = "Docker Engine"
    if client is not None:
        try:
            version = client.version()
        except Exception as exc:
            client, reason = None, first_line(exc)
        else:
            arch = f", {version.get('Os', '')}/{version.get('Arch', '')}" if version.get("Arch") else ""
            return CheckRow(name, "ok", f"{version.get('Version', '?')} (API {version.get('ApiVersion', '?')}{arch})")
    detail = f"not reachable ({reason})" if reason else "not reachable"
    if shutil.which("dockerd") is None and shutil.which("docker") is None:
        fix = "install Docker Engine (`yum install docker` / `apt-get install docker.io`), then start it"
    elif reason and "permission denied" in reason.lower():
        fix = "run as root, or add your user to the docker group (`usermod -aG docker $USER`, then log in again)"
    else:
        fix = "start it: `systemctl start docker` (and `systemctl enable docker` to start it at boot)"
    return CheckRow(name, "error", detail, fix)


def check_compose_v2() -> CheckRow:
    name = "Docker Compose v2"
    version = compose_available()
    if version is not None:
        return CheckRow(name, "ok", version)
    if shutil.which("docker") is None:
        return CheckRow(name, "error", "the docker CLI is not installed", "install Docker, with its compose plugin")
    return CheckRow(
        name,
        "error",
        "`docker compose version` fails or reports v1",
        "install the Compose v2 plugin (docker-compose-plugin, or the docker-compose v2 binary in "
        "~/.docker/cli-plugins/)",
    )


def check_docker_runtime(client: Any | None, server: ServerProfile) -> CheckRow:
    """Optional: with the Ascend Docker Runtime, compose files may say `runtime: ascend` instead of listing
    devices and driver mounts. Without it ascendgen maps them itself, so its absence is no problem."""
    name = "Ascend Docker Runtime"
    runtimes: dict[str, Any] = {}
    if client is not None:
        try:
            runtimes = dict((client.info() or {}).get("Runtimes") or {})
        except Exception:
            runtimes = {}
    installed_dir = on_host(server, ASCEND_DOCKER_RUNTIME_DIR)
    usable = f"compose files may use runtime: {ASCEND_RUNTIME_NAME}"
    if ASCEND_RUNTIME_NAME in runtimes:
        return CheckRow(name, "ok", f"installed: the engine has runtime '{ASCEND_RUNTIME_NAME}' ({usable})")
    if installed_dir.exists():
        return CheckRow(name, "ok", f"installed at {installed_dir} ({usable})")
    return CheckRow(name, "ok", "not installed: ascendgen maps devices and driver files itself")


# ------------------------------------------------------------------------------------------------ host


def on_host(server: ServerProfile, path: str) -> Path:
    """Where the host's `path` is, seen from here: under the profile's host_root ("/" on a real server)."""
    return Path(server.host_path(path))


def check_npu_devices(server: ServerProfile, platform: Platform) -> CheckRow:
    """The /dev/davinciN character devices and the control devices every container maps."""
    name = "NPU devices"
    found, not_char = _npu_devices(server, platform)
    missing_control, bad_control = _control_devices(server, platform)
    if found:
        parts = [f"{len(found)} NPU(s): {format_npus(found)}"]
    else:
        parts = [f"no NPU devices ({on_host(server, platform.npu_device.format(index='N'))})"]
    if not missing_control and not bad_control:
        parts.append(f"control devices present ({', '.join(Path(d).name for d in platform.control_devices)})")
    errors: list[str] = []
    if missing_control:
        errors.append(f"missing control devices: {', '.join(missing_control)}")
    if not_char or bad_control:
        errors.append(f"not character devices: {', '.join([*not_char, *bad_control])}")
    warning = None
    if found and len(found) != server.npu_count:
        missing = sorted(set(range(server.npu_count)) - set(found))
        warning = f"the server profile {server.name} expects {server.npu_count}"
        warning += f"; missing: {format_npus(missing)}" if missing else ""
    detail = "; ".join([*parts, *errors, *([warning] if warning else [])])
    if errors or not found:
        fix = (
            "install and load the Ascend driver (`ls -l /dev/davinci*`; reboot after installing it), "
            "or check --server / host_root"
        )
        return CheckRow(name, "error", detail, fix)
    if warning:
        fix = (
            "check `ls /dev/davinci*` and `npu-smi info`; pass --server with this machine's profile, "
            "or plan with --npus on NPUs that exist"
        )
        return CheckRow(name, "warning", detail, fix)
    return CheckRow(name, "ok", detail)


def _control_devices(server: ServerProfile, platform: Platform) -> tuple[list[str], list[str]]:
    """The control devices that are missing, and those that are there but not character devices."""
    missing: list[str] = []
    not_char: list[str] = []
    for device in platform.control_devices:
        path = on_host(server, device)
        kind = _file_kind(path)
        if kind is None:
            missing.append(str(path))
        elif kind != "char":
            not_char.append(f"{path} ({kind})")
    return missing, not_char


def _npu_devices(server: ServerProfile, platform: Platform) -> tuple[list[int], list[str]]:
    """Indices of the NPU character devices, and the paths that match the NPU name but are not devices."""
    template = on_host(server, platform.npu_device)
    prefix, _, suffix = template.name.partition("{index}")
    pattern = re.compile(re.escape(prefix) + r"(\d+)" + re.escape(suffix))
    found: list[int] = []
    not_char: list[str] = []
    try:
        entries = sorted(template.parent.iterdir())
    except OSError:
        return [], []
    for entry in entries:
        match = pattern.fullmatch(entry.name)
        if not match:
            continue
        kind = _file_kind(entry)
        if kind == "char":
            found.append(int(match.group(1)))
        else:
            not_char.append(f"{entry} ({kind or 'unreadable'})")
    return sorted(found), not_char


def _file_kind(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except OSError:
        return None
    if stat.S_ISCHR(mode):
        return "char"
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a device"


def check_driver(server: ServerProfile, platform: Platform) -> CheckRow:
    """The driver's version.info, and every driver path a compose file mounts into the container."""
    name = "Driver"
    version_info = on_host(server, _platform_path(platform, "version.info", DRIVER_VERSION_INFO))
    version, problem = _driver_version(version_info)
    others = [on_host(server, m) for m in platform.driver_mounts if on_host(server, m) != version_info]
    missing = [str(path) for path in others if not path.exists()]
    parts = [f"version {version}" if version else str(problem)]
    if missing:
        parts.append(f"missing driver paths: {', '.join(missing)}")
    elif problem is None:
        parts.append(f"all {len(platform.driver_mounts)} driver paths present")
    else:
        parts.append(f"the other {len(others)} driver paths are present")
    detail = "; ".join(parts)
    if problem or missing:
        fix = (
            "install the Ascend NPU driver and firmware (Ascend-hdk-*-npu-driver_*.run --full), "
            "then check `cat /usr/local/Ascend/driver/version.info`"
        )
        return CheckRow(name, "error", detail, fix)
    return CheckRow(name, "ok", detail)


def _driver_version(path: Path) -> tuple[str | None, str | None]:
    return read_driver_version(path)


def check_driver_image(server: ServerProfile, platform: Platform, image: str | None = None) -> CheckRow:
    """Whether the host's driver runs the CANN inside `image` (a tag or reference; default: the image `plan`
    picks for this platform). A driver too old for it is a warning: older images may still suit it."""
    from ascendgen.images import REPOSITORY, choose_image, load_images

    name = "Driver and image"
    known = load_images()
    if image is None:
        reference = choose_image(known, requested=None, min_tag=None, suffix=platform.image_suffix).reference
    else:
        reference = image if any(c in image for c in "/:@") else f"{REPOSITORY}:{image}"
    path = on_host(server, _platform_path(platform, "version.info", DRIVER_VERSION_INFO))
    version, problem = _driver_version(path)
    if version is None:
        return CheckRow(name, "warning", f"not checked against {reference}: {problem}", "see the Driver row")
    verdict = check_driver_for_image(reference, version, known, where=str(path))
    if verdict is None:
        return CheckRow(
            name, "ok", f"not checked: driver {version}; {reference} is not a vllm-ascend image ascendgen knows"
        )
    if verdict.status == "ok":
        return CheckRow(name, "ok", verdict.message)
    if verdict.status == "unknown":
        return CheckRow(name, "ok", f"not checked: {verdict.message}")
    return CheckRow(
        name,
        "warning",
        verdict.message,
        f"upgrade the Ascend driver to {verdict.min_driver} or newer before `ascendgen up` with this image",
    )


def check_npu_smi(server: ServerProfile, platform: Platform, *, timeout_s: float = INFO_TIMEOUT_S) -> CheckRow:
    """npu-smi is there and answers; NPUs that already run a process are named (they cannot serve twice)."""
    name = "npu-smi"
    looked = on_host(server, _platform_path(platform, "npu-smi", NPU_SMI))
    npu_smi = find_npu_smi([looked])
    if npu_smi is None:
        return CheckRow(
            name,
            "warning",
            f"not found at {looked} or on PATH: busy NPUs cannot be checked",
            "install the Ascend driver (npu-smi ships with it)",
        )
    try:
        busy = parse_processes(npu_smi_info(npu_smi, timeout_s=timeout_s))
    except NpuSmiFailed as exc:
        return CheckRow(name, "warning", exc.detail, exc.fix)
    if busy:
        held = "; ".join(f"NPU {npu}: pid {pid} ({proc})" for npu, (pid, proc) in sorted(busy.items()))
        return CheckRow(
            name,
            "warning",
            f"{npu_smi}: busy NPUs: {held}",
            "stop those processes (or their containers), or plan on free NPUs with --npus",
        )
    return CheckRow(name, "ok", f"{npu_smi}: no processes on any NPU")


def _platform_path(platform: Platform, basename: str, default: str) -> str:
    """The platform's driver mount with this file name (where the platform moved it), else the default."""
    for mount in platform.driver_mounts:
        if Path(mount).name == basename:
            return mount
    return default


# ---------------------------------------------------------------------------------------------- models


def check_models_dir(models_dir: Path) -> CheckRow:
    """The <org>/<name> folders holding a config.json: the layout `plan` mounts as /models/<org>/<name>."""
    name = "Model directory"
    fix_missing = f"download models into {models_dir}/<org>/<name>, or pass --models-dir"
    if not models_dir.is_dir():
        what = "is not a directory" if models_dir.exists() else "does not exist"
        return CheckRow(name, "warning", f"{models_dir} {what}", fix_missing)
    try:
        good, broken = _scan_models(models_dir)
    except OSError as exc:
        return CheckRow(
            name, "warning", f"{models_dir} cannot be read ({exc.strerror or exc})", "check its permissions"
        )
    parts = [f"{models_dir}: {len(good)} model(s)" + (f": {', '.join(good)}" if good else "")]
    if broken:
        parts.append("unreadable config.json in " + ", ".join(f"{model} ({why})" for model, why in broken))
        return CheckRow(name, "warning", "; ".join(parts), "download those models again (config.json is damaged)")
    if not good:
        return CheckRow(name, "warning", parts[0], fix_missing)
    return CheckRow(name, "ok", parts[0])


def _scan_models(models_dir: Path) -> tuple[list[str], list[tuple[str, str]]]:
    good: list[str] = []
    broken: list[tuple[str, str]] = []
    for org in sorted(p for p in models_dir.iterdir() if p.is_dir()):
        try:
            folders = sorted(p for p in org.iterdir() if p.is_dir())
        except OSError:
            continue
        for folder in folders:
            config = folder / "config.json"
            if not config.exists():
                continue
            label = f"{org.name}/{folder.name}"
            problem = _config_problem(config)
            if problem is None:
                good.append(label)
            else:
                broken.append((label, problem))
    return good, broken


def _config_problem(config: Path) -> str | None:
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    except ValueError as exc:
        return f"not JSON: {first_line(exc)}"
    return None if isinstance(data, dict) else "not a JSON object"
