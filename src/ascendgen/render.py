"""Lay a plan out as compose.yml. One Jinja environment, StrictUndefined, and one quoting filter through
which every value from the user or the catalog passes, so no name or path can change the YAML's shape."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
import yaml

from ascendgen import __version__
from ascendgen.envfile import EnvRef
from ascendgen.errors import AscendgenError
from ascendgen.npuset import format_npus
from ascendgen.planner import Plan

COMPOSE_FILE = "compose.yml"
LABEL_PREFIX = "io.ascendgen"
# A model may take many minutes to load; failed health checks before then do not count.
HEALTH_START_PERIOD = "30m"

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t", "\x85": "\\N", "\u2028": "\\L",
            "\u2029": "\\P", "\ufeff": "\\ufeff"}  # fmt: skip
_NEEDS_ESCAPE = re.compile(r'[\\"\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]')


def yaml_quote(value: object) -> str:
    """A YAML double-quoted scalar that reads back as exactly `value` after compose's interpolation
    (a literal `$` is written `$$`, or compose would expand it as a variable). An EnvRef is the one
    value compose is meant to interpolate: a secret from `.env`."""
    text = str(value) if isinstance(value, EnvRef) else str(value).replace("$", "$$")

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        return _ESCAPES.get(char) or f"\\x{ord(char):02x}"

    return '"' + _NEEDS_ESCAPE.sub(escape, text) + '"'


@dataclass(frozen=True)
class Service:
    name: str
    container_name: str
    image: str
    devices: tuple[str, ...]
    volumes: tuple[str, ...]
    environment: tuple[tuple[str, str | EnvRef], ...]
    labels: tuple[tuple[str, str], ...]
    command_lines: tuple[tuple[str, ...], ...]
    healthcheck: tuple[str, ...]
    start_period: str = HEALTH_START_PERIOD

    @property
    def command(self) -> list[str]:
        return [arg for line in self.command_lines for arg in line]


def service_name(plan: Plan) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", plan.model.name.lower()).strip("-")
    return f"vllm-{slug}"


def host_path(plan: Plan, path: str) -> str:
    root = plan.server.host_root.rstrip("/")
    return f"{root}{path}"


def _mapping(plan: Plan, path: str, *, suffix: str = "") -> str:
    host = host_path(plan, path)
    return f"{host}:{path}{suffix}" if (host != path or suffix) else path


def model_config_label(plan: Plan) -> str:
    """What the model's config.json must say, so `up` can check the folder holds the planned model."""
    m = plan.model
    expected = {
        "num_attention_heads": m.num_attention_heads,
        "num_key_value_heads": m.num_key_value_heads,
        "num_hidden_layers": m.num_layers,
    }
    return ",".join(f"{key}={value}" for key, value in expected.items())


def build_service(plan: Plan, name: str | None = None) -> Service:
    platform = plan.platform
    npu_devices = [platform.npu_device.format(index=i) for i in plan.npus]
    devices = tuple(_mapping(plan, d) for d in (*platform.control_devices, *npu_devices))
    volumes = (
        *(_mapping(plan, m, suffix=":ro") for m in platform.driver_mounts),
        f"{plan.cache_dir}:/root/.cache",
        f"{plan.models_dir}:/models:ro",
    )
    name = name or service_name(plan)
    labels = (
        (f"{LABEL_PREFIX}.model", plan.model.name),
        (f"{LABEL_PREFIX}.served-model-name", plan.model.served_model_name),
        (f"{LABEL_PREFIX}.port", str(plan.port)),
        (f"{LABEL_PREFIX}.npus", ",".join(map(str, plan.npus))),
        (f"{LABEL_PREFIX}.tensor-parallel-size", str(plan.tensor_parallel_size)),
        (f"{LABEL_PREFIX}.model-config", model_config_label(plan)),
    )
    return Service(
        name=name,
        container_name=name,
        image=plan.image.reference,
        devices=devices,
        volumes=volumes,
        environment=plan.environment,
        labels=labels,
        command_lines=_command_lines(plan.serve_args),
        healthcheck=(
            "CMD",
            "python3",
            "-c",
            f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{plan.port}/health', timeout=5)",
        ),
    )


def _command_lines(serve_args: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """`serve MODEL` on the first line, then one flag (with its value) per line, as the seeds write it."""
    lines: list[list[str]] = [["serve", serve_args[0]]]
    for arg in serve_args[1:]:
        if arg.startswith("--") or len(lines) == 1:
            lines.append([arg])
        else:
            lines[-1].append(arg)
    return tuple(tuple(line) for line in lines)


@cache
def _environment() -> jinja2.Environment:
    from ascendgen.resources import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["q"] = yaml_quote
    return env


HASH_PREFIX = "# Content hash: sha256:"


def header_lines(plans: Sequence[Plan], regenerate: str) -> list[str]:
    lines = [
        f"# Generated by ascendgen {__version__}. Keep local changes in compose.override.yml, not here.",
        f"# Regenerate (in this directory): {regenerate}".replace("\n", "\\n"),
    ]
    for plan in plans:
        m = plan.memory
        lines.append(
            f"# {plan.model.name}: TP {plan.tensor_parallel_size} on {plan.npu_type.name} "
            f"NPUs {format_npus(plan.npus)}, port {plan.port}, weights {m.weights_gib:.1f} GiB + KV cache "
            f"{m.kv_cache_gib:.1f} GiB per NPU ({plan.kv_cache_tokens:,} tokens), "
            f"max-model-len {plan.max_model_len:,}"
        )
    return lines


def content_hash(body: str) -> str:
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def with_header(lines: Sequence[str], body: str) -> str:
    """The header comment, then a hash of the body, so a later run can tell a hand edit from its own output."""
    return "\n".join([*lines, f"{HASH_PREFIX}{content_hash(body)}", body])


def unique_service_names(plans: Sequence[Plan]) -> list[str]:
    names: list[str] = []
    for plan in plans:
        base = service_name(plan)
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.append(name)
    return names


def render_compose(plans: Sequence[Plan], *, regenerate: str) -> str:
    names = unique_service_names(plans)
    services = [build_service(plan, name) for plan, name in zip(plans, names, strict=True)]
    body = _environment().get_template("compose.yml.j2").render(services=services).strip("\n") + "\n"
    text = with_header(header_lines(plans, regenerate), body)
    _check_round_trip(text, services)
    return text


@dataclass(frozen=True)
class GeneratedFile:
    """What the header of a file ascendgen wrote says about it."""

    regenerate: str | None
    recorded_hash: str | None
    body: str

    @property
    def by_ascendgen(self) -> bool:
        return self.recorded_hash is not None

    @property
    def edited_by_hand(self) -> bool:
        return self.recorded_hash is not None and self.recorded_hash != content_hash(self.body)


def read_generated(text: str) -> GeneratedFile:
    regenerate = recorded = None
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith("# Regenerate (in this directory): "):
            regenerate = line.split(": ", 1)[1]
        elif line.startswith(HASH_PREFIX):
            recorded = line.removeprefix(HASH_PREFIX).strip()
            return GeneratedFile(regenerate, recorded, "\n".join(lines[index + 1 :]))
        elif not line.startswith("#"):
            break
    return GeneratedFile(regenerate, None, text)


def _check_round_trip(text: str, services: Sequence[Service]) -> None:
    """The rendered file must read back as exactly what was meant (compose un-doubles `$$`)."""
    parsed: Any = yaml.safe_load(text)

    def unescape(value: str) -> str:
        return value.replace("$$", "$")

    for svc in services:
        got = parsed["services"][svc.name]
        expected = {
            "image": svc.image,
            "devices": list(svc.devices),
            "volumes": list(svc.volumes),
            "command": svc.command,
            "environment": {name: str(value) for name, value in svc.environment},
            "labels": dict(svc.labels),
        }
        for key, value in expected.items():
            actual = got[key]
            actual = (
                {k: unescape(v) for k, v in actual.items()}
                if isinstance(actual, dict)
                else [unescape(v) for v in actual]
                if isinstance(actual, list)
                else unescape(actual)
            )
            if actual != value:
                raise AscendgenError(f"internal error: rendered {key} of {svc.name} does not read back as planned")


def write_atomically(path: Path, text: str) -> None:
    """Write through a temporary file in the same directory and rename it over `path`: a reader (or a crash)
    never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
