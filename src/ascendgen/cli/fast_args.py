"""`ascendgen plan`'s arguments read without typer, which costs a plan more start-up than the planning (typer 0.29
imports pydantic and builds a TypeAdapter per parameter before a command runs; bench/README.md).

PLAN_OPTIONS is plan's options as cli/plan.py declares them to typer (tests/cli/test_fast_args.py holds the two
equal), and parse_plan_args gives exactly the params typer would give the command, or None whenever the arguments
need typer: --help, an unknown option, a missing value, a number written any way but plain digits, `--`. None is
never wrong (typer then reads them, with its own help and errors); a dict unlike typer's would be.

How click 8's parser (typer/_click/parser.py) reads a command's arguments, which this follows:
- an argument that starts with `-` and is longer than `-` is an option; `-` alone, and every other word, is a
  positional argument (a model), before, between or after the options;
- `--name=value` gives a value option its value (split at the first `=`); a switch given `=...` is an error;
- `-fVALUE` and `-f=VALUE` are `-f` with the value `VALUE` and `=VALUE` (the rest of the word);
- a value option takes the next argument whatever it is (`--server --dry-run` is the server `--dry-run`): here a
  next argument that starts with `-` goes to typer instead, so an option never silently eats what the user meant
  as the next option;
- given twice, a value option keeps the last; a repeated option collects every value, in order.
Typer then converts: an option not given has its default, a repeated option or the models given none is `()`,
given some a list; a path is `Path(value)` (`Path("")` is `.`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, NamedTuple

Kind = Literal["switch", "value", "repeated"]


class PlanOption(NamedTuple):
    name: str  # the command's parameter: its key in the params
    flags: tuple[str, ...]  # the long flag first, then the short one if any
    kind: Kind  # switch: no value, True when given; value: one value, the last given; repeated: every value
    value_type: type = str  # of each value: str, int, float or Path (bool for a switch)
    default: Any = None  # when not given

    @property
    def unset(self) -> Any:
        """The value typer gives the command when the option is not on the command line."""
        return False if self.kind == "switch" else () if self.kind == "repeated" else self.default


MODELS = "models"  # the positional argument: every word that is not an option or an option's value

# In the order cli/plan.py declares them.
PLAN_OPTIONS: tuple[PlanOption, ...] = (
    PlanOption("file", ("--file", "-f"), "value", Path),
    PlanOption("npu_type", ("--npu-type",), "value"),
    PlanOption("server", ("--server",), "value"),
    PlanOption("tp", ("--tp",), "value", int),
    PlanOption("dp", ("--dp",), "value", int),
    PlanOption("fill", ("--fill",), "switch", bool),
    PlanOption("npus", ("--npus",), "value"),
    PlanOption("gpu_memory_utilization", ("--gpu-memory-utilization",), "value", float),
    PlanOption("max_model_len", ("--max-model-len",), "value", int),
    PlanOption("port", ("--port",), "value", int),
    PlanOption("served_name", ("--served-name",), "value"),
    PlanOption("image", ("--image",), "value"),
    PlanOption("models_dir", ("--models-dir",), "value", str, "/models"),
    PlanOption("host", ("--host",), "value"),
    PlanOption("api_key", ("--api-key",), "value"),
    PlanOption("generate_api_key", ("--generate-api-key",), "switch", bool),
    PlanOption("api_key_env", ("--api-key-env",), "switch", bool),
    PlanOption("nodes", ("--node",), "repeated"),
    PlanOption("layout", ("--layout",), "value"),
    PlanOption("gateway", ("--gateway",), "switch", bool),
    PlanOption("catalogs", ("--catalog",), "repeated", Path),
    PlanOption("hardware", ("--hardware",), "repeated", Path),
    PlanOption("out", ("--out",), "value", Path, Path(".")),
    PlanOption("dry_run", ("--dry-run",), "switch", bool),
    PlanOption("force", ("--force",), "switch", bool),
    PlanOption("as_json", ("--json",), "switch", bool),
)
_BY_FLAG = {flag: option for option in PLAN_OPTIONS for flag in option.flags}

# Numbers as plain ASCII digits, short enough for any converter: typer (pydantic) reads more (' 3', '+3', '1_0',
# '1.0' as an int, '1e3', 'nan'), and those go to it. int() and float() read these as pydantic does.
_INT = re.compile(r"[0-9]{1,18}")
_FLOAT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")


def parse_plan_args(args: list[str]) -> dict[str, Any] | None:
    """The params typer would give `plan` for `args` (what follows `plan` on the command line), or None when
    typer should read them."""
    models: list[str] = []
    given: dict[str, Any] = {}
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg == "-" or not arg.startswith("-"):
            models.append(arg)
            continue
        if arg.startswith("--"):  # `--` itself, an unknown option, --help: None below
            flag, equals, inline = arg.partition("=")
            value: str | None = inline if equals else None
        else:  # a short option: -f alone, or with its value in the same word
            flag, value = arg[:2], arg[2:] or None
        option = _BY_FLAG.get(flag)
        if option is None:
            return None
        if option.kind == "switch":
            if value is not None:
                return None
            given[option.name] = True
            continue
        if value is None:
            if position == len(args) or args[position].startswith("-"):
                return None  # missing, or a word typer would take as the value where the user may mean an option
            value = args[position]
            position += 1
        converted = _convert(value, option.value_type)
        if converted is None:
            return None
        if option.kind == "repeated":
            given.setdefault(option.name, []).append(converted)
        else:
            given[option.name] = converted
    params = {option.name: given.get(option.name, option.unset) for option in PLAN_OPTIONS}
    return {MODELS: models or (), **params}


def _convert(value: str, kind: type) -> Any:
    """`value` as typer converts it to `kind`; None when unsure."""
    if kind is int:
        return int(value) if _INT.fullmatch(value) else None
    if kind is float:
        return float(value) if _FLOAT.fullmatch(value) else None
    if kind is Path:  # a path with NUL is typer's error (a real command line has none)
        return Path(value) if "\x00" not in value else None
    return value
