"""Lay a plan out as compose.yml. One Jinja environment, StrictUndefined, and one quoting filter through
which every value from the user or the catalog passes, so no name or path can change the YAML's shape."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from ascendgen import __version__
from ascendgen.envfile import EnvRef
from ascendgen.errors import AscendgenError
from ascendgen.hardware import npu_mounts
from ascendgen.npuset import format_npus
from ascendgen.planner import Plan
from ascendgen.safetext import one_line

if TYPE_CHECKING:
    import jinja2

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
    return '"' + _escape(value) + '"'


def _escape(value: object) -> str:
    text = str(value) if isinstance(value, EnvRef) else str(value).replace("$", "$$")

    def escape(match: re.Match[str]) -> str:
        char = match.group(0)
        return _ESCAPES.get(char) or f"\\x{ord(char):02x}"

    return _NEEDS_ESCAPE.sub(escape, text)


def yaml_quote_folded(lines: Sequence[str], indent: str) -> str:
    """One double-quoted scalar written over several lines: each line break is escaped (`\\` at the end of
    a line), so the value is the lines joined by single spaces. For long `sh -c` commands."""
    return '"' + f" \\\n{indent}".join(_escape(line) for line in lines) + '"'


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
    healthcheck: tuple[str, ...] | None
    start_period: str = HEALTH_START_PERIOD
    entrypoint: tuple[str, ...] = ("vllm",)
    shell_lines: tuple[str, ...] = ()  # set: the command is one `sh -c` string, written over these lines

    @property
    def command(self) -> list[str]:
        if self.shell_lines:
            return [" ".join(self.shell_lines)]
        return [arg for line in self.command_lines for arg in line]

    def planned(self) -> dict[str, object]:
        """What compose must read back from the rendered service (see check_round_trip)."""
        return {
            "image": self.image,
            "container_name": self.container_name,
            "devices": list(self.devices),
            "volumes": list(self.volumes),
            "command": self.command,
            "environment": {name: str(value) for name, value in self.environment},
            "labels": dict(self.labels),
        }


class RenderedService(Protocol):
    """A service a template lays out (render.Service, gpustack.GpustackService)."""

    @property
    def name(self) -> str: ...

    def planned(self) -> dict[str, object]: ...


def service_name(plan: Plan) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", plan.model.name.lower()).strip("-")
    return f"vllm-{slug}"


def model_config_label(plan: Plan) -> str:
    """What the model's config.json must say, so `up` can check the folder holds the planned model."""
    m = plan.model
    expected = {
        "num_attention_heads": m.num_attention_heads,
        "num_key_value_heads": m.num_key_value_heads,
        "num_hidden_layers": m.num_layers,
    }
    return ",".join(f"{key}={value}" for key, value in expected.items())


def memory_label(plan: Plan) -> str:
    """The plan's memory per NPU, so that `up`, `status` and `calibrate` can hold it against what vLLM logs
    (observations.planned_memory reads it back): usable = visible HBM x utilization; KV cache = (usable -
    weights - reserve) x kv_budget_factor, in GiB; and the KV cache's bytes per token."""
    m = plan.memory
    numbers = {
        "gpu_memory_utilization": f"{plan.gpu_memory_utilization:g}",
        "usable_gib": f"{m.usable_gib:.2f}",
        "weights_gib": f"{m.weights_gib:.2f}",
        "reserve_gib": f"{m.activation_gib + m.runtime_gib:.2f}",
        "kv_budget_factor": f"{m.kv_budget_factor:g}",
        "kv_cache_gib": f"{m.kv_cache_gib:.2f}",
        "kv_bytes_per_token": str(plan.kv_bytes_per_token),
    }
    return ",".join(f"{key}={value}" for key, value in numbers.items())


def build_service(plan: Plan, name: str | None = None, *, multinode: bool = False) -> Service:
    devices, driver = npu_mounts(plan.server, plan.platform, plan.npus, multinode=multinode)
    volumes = (
        *driver,
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
        (f"{LABEL_PREFIX}.npu-type", plan.npu_type.name),
        (f"{LABEL_PREFIX}.kv-cache-tokens", str(plan.kv_cache_tokens)),
        (f"{LABEL_PREFIX}.memory-per-npu", memory_label(plan)),
        # what the model is for, where it is not a chat: `smoke` and `up`'s curl hint ask it the right way
        *(((f"{LABEL_PREFIX}.task", plan.model.task),) if plan.model.task != "generate" else ()),
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
    return (("serve", serve_args[0]), *flag_lines(serve_args[1:]))


def flag_lines(args: Sequence[str]) -> tuple[tuple[str, ...], ...]:
    """One flag with its values per line (a leading value stands on a line of its own)."""
    lines: list[list[str]] = []
    for arg in args:
        if arg.startswith("--") or not lines:
            lines.append([arg])
        else:
            lines[-1].append(arg)
    return tuple(tuple(line) for line in lines)


@cache
def jinja_environment() -> jinja2.Environment:
    """The one Jinja environment every template renders in: StrictUndefined, and the `q` / `q_folded` filters
    through which every outside value passes."""
    import jinja2  # here: `plan --dry-run` renders no template and never imports it

    from ascendgen.datafiles import templates_dir

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )
    env.filters["q"] = yaml_quote
    env.filters["q_folded"] = yaml_quote_folded
    return env


HASH_PREFIX = "# Content hash: sha256:"


REGENERATE_HERE = "# Regenerate (in this directory): "
REGENERATE_PARENT = "# Regenerate (in the parent directory): "


def header_lines(regenerate: str, notes: Sequence[str] = (), *, in_parent: bool = False) -> list[str]:
    """The comment every file ascendgen writes opens with: who wrote it, the command that writes it again (run
    in its directory, or in the parent for a node of a cluster), then one comment line per note. Each line is
    kept to one line, so that no name from a catalog or hardware file can end the comment and start YAML."""
    where = REGENERATE_PARENT if in_parent else REGENERATE_HERE
    return [
        f"# Generated by ascendgen {__version__}. Keep local changes in compose.override.yml, not here.",
        f"{where}{one_line(regenerate)}",
        *(f"# {one_line(note)}" for note in notes),
    ]


def plan_note(plan: Plan) -> str:
    """One header line saying how a model runs: TP, NPUs, port, memory per NPU, context."""
    m = plan.memory
    return (
        f"{plan.model.name}: TP {plan.tensor_parallel_size}{_dp_part(plan)} on {plan.npu_type.name} "
        f"NPUs {format_npus(plan.npus)}, port {plan.port}, weights {m.weights_gib:.1f} GiB + KV cache "
        f"{m.kv_cache_gib:.1f} GiB per NPU ({plan.kv_cache_tokens:,} tokens), "
        f"max-model-len {plan.max_model_len:,}"
    )


def _dp_part(plan: Plan) -> str:
    return f" x DP {plan.data_parallel_size}" if plan.data_parallel_size > 1 else ""


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
    return with_header(header_lines(regenerate, [plan_note(plan) for plan in plans]), render_services(services))


def render_services(services: Sequence[Service]) -> str:
    """The compose body (no header) for these services, checked to read back as meant."""
    body = jinja_environment().get_template("compose.yml.j2").render(services=services).strip("\n") + "\n"
    check_round_trip(body, services)
    return body


@dataclass(frozen=True)
class GeneratedFile:
    """What the header of a file ascendgen wrote says about it."""

    regenerate: str | None
    recorded_hash: str | None
    body: str
    in_parent: bool = False  # the recipe runs in the parent directory (one file per node of a cluster)

    @property
    def by_ascendgen(self) -> bool:
        return self.recorded_hash is not None

    @property
    def edited_by_hand(self) -> bool:
        return self.recorded_hash is not None and self.recorded_hash != content_hash(self.body)


def read_generated(text: str) -> GeneratedFile:
    regenerate = recorded = None
    in_parent = False
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.startswith((REGENERATE_HERE, REGENERATE_PARENT)):
            regenerate = line.split(": ", 1)[1]
            in_parent = line.startswith(REGENERATE_PARENT)
        elif line.startswith(HASH_PREFIX):
            recorded = line.removeprefix(HASH_PREFIX).strip()
            return GeneratedFile(regenerate, recorded, "\n".join(lines[index + 1 :]), in_parent)
        elif not line.startswith("#"):
            break
    return GeneratedFile(regenerate, None, text, in_parent)


def check_round_trip(text: str, services: Sequence[RenderedService]) -> Any:
    """The rendered file must read back as exactly what was meant: each service's planned values, a literal `$`
    (written `$$`, which compose un-doubles) read as one `$`, a key the template leaves out read as empty.
    Returns the parsed file."""
    import yaml

    # libyaml's parser when PyYAML has it, as yamlfile reads files: the pure-Python one took three quarters of
    # the time `check` spends on each file (bench/README.md)
    parsed: Any = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    for service in services:
        got = parsed["services"][service.name]
        for key, value in service.planned().items():
            empty: object = [] if isinstance(value, list) else {} if isinstance(value, dict) else None
            if compose_unescaped(got.get(key, empty)) != value:
                raise AscendgenError(f"internal error: rendered {key} of {service.name} does not read back as planned")
    return parsed


def compose_unescaped(value: Any) -> Any:
    """A value as the container sees it: compose reads `$$` as one `$` (and `compose config` prints it `$$`
    again, so that its output stays a valid compose file)."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, list):
        return [compose_unescaped(v) for v in value]
    if isinstance(value, dict):
        return {k: compose_unescaped(v) for k, v in value.items()}
    return value
