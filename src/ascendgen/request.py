"""What the user asked for, as one strict schema. The `plan` command's flags, a deployment file
(ascendgen.yaml) and the recipe recorded in a compose file's header all become a `PlanRequest` through
the same records (ascendgen.records), and one table (`PLAN_FLAGS`) says which flag sets which field, so the recipe
writer and reader cannot drift apart.

Adding a flag: a field here, a row in PLAN_FLAGS, the typer option in the `plan` command and its row in
cli/fast_args.py's PLAN_OPTIONS (tests/cli/test_fast_args.py says when one is missing)."""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

from ascendgen.cluster import Node, parse_node
from ascendgen.errors import InputError
from ascendgen.modeldir import is_model_dir
from ascendgen.npuset import format_npus, parse_npus
from ascendgen.planner import DEFAULT_PORT
from ascendgen.records import After, Before, Record, RecordError, Rule, defaults, validate
from ascendgen.safetext import has_control_chars
from ascendgen.yamlfile import Items

DEFAULT_MODELS_DIR = "/models"

Port = Annotated[int, Rule(ge=1, le=65535)]
Count = Annotated[int, Rule(gt=0)]
Share = Annotated[float, Rule(gt=0, le=1)]


def _npus_from_text(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("must be NPU indices like '0-3', '4,5,6,7' or [4, 5], not a boolean")
    if isinstance(value, int):
        value = str(value)
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        value = ",".join(str(v) for v in value)
    if isinstance(value, str):
        try:
            return parse_npus(value)
        except InputError as exc:
            raise ValueError(str(exc).removeprefix(f"--npus '{value}': ")) from None
    return value


# NPU indices, written as '0-3' or '4,5,6,7' (or a YAML list of ints)
Npus = Annotated[tuple[int, ...], Before(_npus_from_text)]


def _one_line(value: str) -> str:
    if not value.strip() or has_control_chars(value):
        raise ValueError("must be one line of printable text")
    return value


@dataclass(frozen=True, kw_only=True)
class InstanceRequest(Record):
    """One vLLM server to run: a model and what the user fixed for it (None: the planner decides)."""

    model: Annotated[str, Rule(min_length=1), After(_one_line)]
    tp: Count | None = None
    npus: Npus | None = None
    port: Port | None = None
    max_model_len: Count | None = None
    served_name: Annotated[str, After(_one_line)] | None = None
    gpu_memory_utilization: Share | None = None
    dp: Count | None = None  # data-parallel ranks behind the instance's one port (vllm serve --data-parallel-size)
    fill: bool = False  # as many data-parallel ranks as fit its NPUs (--npus, else what the server has left)

    def _check(self) -> None:
        if self.fill and self.dp is not None:
            raise ValueError("--dp and --fill: give a number of data-parallel ranks, or --fill for as many as fit")


def _nodes_from_text(value: object) -> object:
    if isinstance(value, list | tuple):
        try:
            return tuple(parse_node(v) if isinstance(v, str) else v for v in value)
        except InputError as exc:
            raise ValueError(str(exc)) from None
    return value


def _paths_as_text(value: object) -> object:
    if isinstance(value, list | tuple):
        return tuple(str(v) if isinstance(v, Path) else v for v in value)
    return value


def _recordable_paths(value: tuple[str, ...]) -> tuple[str, ...]:
    for path in value:
        if not path or has_control_chars(path):
            raise ValueError(f"{path!r}: a file path with control characters cannot be recorded in the recipe")
    return value


# file paths a recipe records: given as text or Path, each one line of text
RecordedPaths = Annotated[Items[str], Before(_paths_as_text), After(_recordable_paths)]


@dataclass(frozen=True, kw_only=True)
class PlanRequest(Record):
    """Everything a user chose for one deployment: the recipe its compose file is regenerated from."""

    instances: Annotated[Items[InstanceRequest], Rule(min_length=1)]
    server: str | None = None
    npu_type: str | None = None
    image: str | None = None
    models_dir: str = DEFAULT_MODELS_DIR
    first_port: Port = DEFAULT_PORT
    host: str | None = None
    api_key_env: bool = False  # the API requires the key kept in the deployment directory's .env
    nodes: Annotated[tuple[Node, ...], Before(_nodes_from_text)] = ()  # several servers (Ray); the first is the head
    layout: str | None = None  # with nodes: tp, tp-pp, ep (Ray) or dp, dp-ep (vLLM's multi-node data parallel)
    # one OpenAI-compatible endpoint (LiteLLM) on first_port for every instance, routing by model name; the
    # instances move to the ports after it and listen on 127.0.0.1
    gateway: bool = False
    catalogs: RecordedPaths = ()
    hardware: RecordedPaths = ()
    deployment_file: str | None = None  # set when read from an ascendgen.yaml (which may not set it)

    def _check(self) -> None:
        if self.layout is not None and not self.nodes:
            raise ValueError(
                f"--layout {self.layout} spreads one model over several servers: add --node ADDRESS:INTERFACE for "
                "each server (two or more), or drop --layout"
            )
        if self.gateway and self.nodes:
            raise ValueError(
                "--gateway puts several models on one server behind one endpoint; a multi-node plan (--node) serves "
                "one model: drop --gateway"
            )
        if self.gateway and not self.api_key_env:
            raise ValueError(
                "--gateway enforces the API key at the one endpoint it opens: add --generate-api-key (or --api-key "
                "KEY, or --api-key-env with VLLM_API_KEY already in .env)"
            )


@dataclass(frozen=True)
class Flag:
    """One option as a recipe records it: the flag, the field it sets, how its value is written and read.
    PLAN_FLAGS is `plan`'s table; gpustack.py has one per GPUStack command."""

    option: str
    field: str
    per_instance: bool = False  # a field of the (single) instance, not of the request (`plan` only)
    switch: bool = False  # a boolean flag without a value
    repeated: bool = False  # given once per item of a tuple field
    path: bool = False  # a file path, recorded relative to the compose file's directory
    number: type[int] | type[float] | None = None  # the value is a number, read back as this type
    npus: bool = False  # NPU indices, written as '0-3' or '4,5,6,7'


# In the order the recipe writes them. `--port` is the instance's port with one model and the first port with
# several; the reader and writer treat it so (see _port_flag).
PLAN_FLAGS: tuple[Flag, ...] = (
    Flag("--tp", "tp", per_instance=True, number=int),
    Flag("--dp", "dp", per_instance=True, number=int),
    Flag("--fill", "fill", per_instance=True, switch=True),
    Flag("--npus", "npus", per_instance=True, npus=True),
    Flag("--gpu-memory-utilization", "gpu_memory_utilization", per_instance=True, number=float),
    Flag("--max-model-len", "max_model_len", per_instance=True, number=int),
    Flag("--port", "port", per_instance=True, number=int),
    Flag("--served-name", "served_name", per_instance=True),
    Flag("--server", "server"),
    Flag("--npu-type", "npu_type"),
    Flag("--port", "first_port", number=int),
    Flag("--image", "image"),
    Flag("--models-dir", "models_dir"),
    Flag("--host", "host"),
    Flag("--node", "nodes", repeated=True),
    Flag("--layout", "layout"),
    Flag("--gateway", "gateway", switch=True),
    Flag("--api-key-env", "api_key_env", switch=True),
    Flag("--catalog", "catalogs", repeated=True, path=True),
    Flag("--hardware", "hardware", repeated=True, path=True),
)
_BY_FIELD = {flag.field: flag for flag in PLAN_FLAGS}
RequestT = TypeVar("RequestT", bound=Record)
_REQUEST_DEFAULTS = defaults(PlanRequest)
_INSTANCE_DEFAULTS = defaults(InstanceRequest)


def flag_for(field: str, flags: Sequence[Flag] = PLAN_FLAGS) -> str:
    """The option that sets `field` (for messages)."""
    return next((flag.option for flag in flags if flag.field == field), field)


def request_from_flags(models: Sequence[str], given: Mapping[str, Any]) -> PlanRequest:
    """The `plan` command's flags as a PlanRequest: `given` maps PLAN_FLAGS' fields to values as typed (other
    keys are the command's own: --out, --json, ...). With several models, per-instance flags are ambiguous:
    those go in a deployment file."""
    given = {name: value for name, value in given.items() if name in _BY_FIELD and not _unset(value)}
    if not models:
        raise InputError("name a model (see 'ascendgen models'), or a deployment file with -f ascendgen.yaml")
    per_instance = {f.field: given.pop(f.field) for f in PLAN_FLAGS if f.per_instance and f.field in given}
    port = per_instance.pop("port", None)
    if port is not None:
        given["first_port"] = port
    if len(models) > 1 and per_instance:
        flags = ", ".join(flag_for(name) for name in per_instance)
        raise InputError(
            f"{flags} with several models is ambiguous: give each instance its own in a deployment file "
            "(ascendgen plan -f ascendgen.yaml)"
        )
    # with a gateway, --port is the gateway's: the instances take the ports after it
    single_port = {"port": port} if port is not None and len(models) == 1 and not given.get("gateway") else {}
    raw = {"instances": [{"model": name, **per_instance, **single_port} for name in models], **given}
    return validate_flags(PlanRequest, raw, PLAN_FLAGS)


def _unset(value: object) -> bool:
    """None, an unset switch, a repeatable option given no times (0 and 0.0 are values: they are refused)."""
    return value is None or value is False or (isinstance(value, list | tuple) and not value)


def validate_flags(model: type[RequestT], raw: Mapping[str, Any], flags: Sequence[Flag]) -> RequestT:
    """`raw` (fields as the flags gave them) validated as `model`; a refusal is an InputError naming the flag."""
    try:
        return validate(model, raw)
    except RecordError as exc:
        raise InputError(flag_message(exc, flags)) from None


def flag_message(exc: RecordError, flags: Sequence[Flag]) -> str:
    """A validation error as one line naming the flag that set the field (and the value, when it is short)."""
    error = exc.errors()[0]
    loc = [part for part in error["loc"] if not isinstance(part, int)]
    field = str(loc[-1]) if loc and loc[-1] != "instances" else ""
    message = str(error["msg"]).removeprefix("Value error, ")
    option = flag_for(field, flags)
    if not field or message.startswith(option):  # the validator named the flag itself
        return message
    value = error.get("input")
    shown = f" {value!r}" if isinstance(value, str | int | float) and not isinstance(value, bool) else ""
    return f"{option}{shown}: {message}"


# ---- the recipe: the `ascendgen plan ...` line in a compose file's header ------------------------------------


def recipe_command(request: PlanRequest, *, relative_to: Path | None = None) -> str:
    """The canonical `ascendgen plan ...` line that reproduces `request` (PLAN_FLAGS' order, defaults left
    out), with file paths relative to `relative_to` (the directory the compose file is written to)."""
    if request.deployment_file is not None:  # the file holds everything else, catalogs included
        return shlex.join(["ascendgen", "plan", "-f", relative_path(request.deployment_file, relative_to)])
    return shlex.join(
        ["ascendgen", "plan", *(_model_word(i.model) for i in request.instances), *_recipe_flags(request, relative_to)]
    )


def _model_word(model: str) -> str:
    """A model directory is recorded as an absolute path, so that `check` finds it from any directory."""
    return os.path.abspath(model) if is_model_dir(model) else model


def _recipe_flags(request: PlanRequest, relative_to: Path | None) -> Iterator[str]:
    single = request.instances[0] if len(request.instances) == 1 else None
    for flag in PLAN_FLAGS:
        if flag.per_instance:
            value = getattr(single, flag.field) if single is not None else None
            if flag.field == "port" and single is not None and value is None:
                value = request.first_port  # one model: --port is its port (or, with --gateway, the gateway's)
            default = DEFAULT_PORT if flag.field == "port" else _INSTANCE_DEFAULTS[flag.field]
        elif flag.field == "first_port":
            value, default = (request.first_port if single is None else None), DEFAULT_PORT
        else:
            value, default = getattr(request, flag.field), _REQUEST_DEFAULTS[flag.field]
        if value is not None and value != default:
            yield from flag_words(flag, value, relative_to)


def recipe_args(request: Record, flags: Sequence[Flag], *, relative_to: Path | None = None) -> list[str]:
    """The words that reproduce `request`, a model whose fields `flags` set: in the table's order, each switch
    that is on and each other flag whose field is neither None nor its default, file paths relative to
    `relative_to`."""
    unset = defaults(type(request))
    words: list[str] = []
    for flag in flags:
        value = getattr(request, flag.field)
        if value is not None and (flag.switch or flag.field not in unset or value != unset[flag.field]):
            words += flag_words(flag, value, relative_to)
    return words


def flag_words(flag: Flag, value: Any, relative_to: Path | None) -> list[str]:
    """One flag as a recipe writes it: a switch alone, a repeated flag once per item, a path relative to
    `relative_to`, NPU indices as ranges."""
    if flag.switch:
        return [flag.option] if value else []
    if flag.repeated:
        return [word for item in value for word in (flag.option, _text(flag, item, relative_to))]
    return [flag.option, _text(flag, value, relative_to)]


def _text(flag: Flag, value: Any, relative_to: Path | None) -> str:
    if flag.npus:
        return format_npus(value)
    if flag.path:
        return relative_path(str(value), relative_to)
    return str(value)


def relative_path(path: str, base: Path | None) -> str:
    """`path` relative to `base` (the directory a compose file is written to), or as given without a base."""
    if base is None:
        return path
    return os.path.relpath(Path(path).resolve(), base.resolve())


def request_from_recipe(args: Sequence[str], base: Path, locate: FileLocator | None = None) -> PlanRequest:
    """Read a recorded `ascendgen plan ...` line (the words after `plan`) back into a PlanRequest, file paths
    taken relative to `base` (the compose file's directory), or found by `locate` (flag, path as recorded)."""
    find = locate or (lambda _flag, path: rebase(path, base))
    recipe = f"recipe 'ascendgen plan {shlex.join(args)}'"
    if "-f" in args or "--file" in args:
        if len(args) != 2 or args[0] not in ("-f", "--file"):
            raise InputError(f"{recipe}: -f takes one deployment file and nothing else")
        from ascendgen.deployfile import load_deployment

        return load_deployment(Path(find("-f", args[1])))
    models, given = parse_recipe(args, PLAN_FLAGS, recipe=recipe, locate=find)
    return request_from_flags(models, given)


def parse_recipe(
    args: Sequence[str], flags: Sequence[Flag], *, recipe: str, locate: FileLocator
) -> tuple[list[str], dict[str, Any]]:
    """The words of a recorded command as (its arguments, {field: value}) by the flag table: numbers read as
    their type, switches as True, repeated flags as lists, file paths found by `locate` (flag, path as recorded).
    `recipe` names the line in messages."""
    by_option: dict[str, Flag] = {}
    for flag in flags:
        by_option.setdefault(flag.option, flag)  # `plan --port`: the instance's port (request_from_flags sorts it)
    arguments: list[str] = []
    given: dict[str, Any] = {}
    words = list(args)
    while words:
        word = words.pop(0)
        if not word.startswith("-"):
            arguments.append(word)
            continue
        option, has_value, value = word.partition("=")
        found = by_option.get(option)
        if found is None:
            raise InputError(f"{recipe}: unknown option {option}")
        if found.switch:
            if has_value:
                raise InputError(f"{recipe}: {option} takes no value")
            given[found.field] = True
            continue
        if not has_value:
            if not words:
                raise InputError(f"{recipe}: {option} needs a value")
            value = words.pop(0)
        read = _read_value(found, value, locate)
        if found.repeated:
            given.setdefault(found.field, []).append(read)
        else:
            given[found.field] = read
    return arguments, given


def _read_value(flag: Flag, value: str, locate: FileLocator) -> Any:
    if flag.path:
        return locate(flag.option, value)
    if flag.number is not None:
        try:
            return flag.number(value)
        except ValueError:
            raise InputError(f"{flag.option} {value!r}: not a number") from None
    return value


# (the flag, the path as the recipe records it) -> the path to read
FileLocator = Callable[[str, str], str]


def rebase(path: str, base: Path) -> str:
    """A recorded path as read from `base` (where the recipe runs)."""
    return path if Path(path).is_absolute() else str(base / path)
