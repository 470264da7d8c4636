"""A command's arguments read without typer, which costs more start-up than a plan or a check takes (typer 0.29
imports pydantic and builds a TypeAdapter per parameter before a command runs; bench/README.md).

An ArgTable is a command's positional argument and options as its module declares them to typer: PLAN is
cli/plan.py's `plan`, CHECK is cli/check.py's `check` (tests/cli/test_fast_args.py holds each equal to typer's
declaration). parse(args, table) gives exactly the params typer would give the command, or None whenever the
arguments need typer: --help, an unknown option, a missing value, a number written any way but plain digits, `--`.
None is never wrong (typer then reads them, with its own help and errors); a dict unlike typer's would be.

How click 8's parser (typer/_click/parser.py) reads a command's arguments, which this follows:
- an argument that starts with `-` and is longer than `-` is an option; `-` alone, and every other word, is a
  positional argument (a model, a file), before, between or after the options;
- `--name=value` gives a value option its value (split at the first `=`); a switch given `=...` is an error;
- `-fVALUE` and `-f=VALUE` are `-f` with the value `VALUE` and `=VALUE` (the rest of the word);
- a value option takes the next argument whatever it is (`--server --dry-run` is the server `--dry-run`): here a
  next argument that starts with `-` goes to typer instead, so an option never silently eats what the user meant
  as the next option;
- given twice, a value option keeps the last; a repeated option collects every value, in order.
Typer then converts: an option not given has its default, a repeated option or the positional argument given none
is `()`, given some a list; a path is `Path(value)` (`Path("")` is `.`)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, NamedTuple

Kind = Literal["switch", "value", "repeated"]


class Option(NamedTuple):
    name: str  # the command's parameter: its key in the params
    flags: tuple[str, ...]  # the long flag first, then the short one if any
    kind: Kind  # switch: no value, True when given; value: one value, the last given; repeated: every value
    value_type: type = str  # of each value: str, int, float or Path (bool for a switch)
    default: Any = None  # when not given

    @property
    def unset(self) -> Any:
        """The value typer gives the command when the option is not on the command line."""
        return False if self.kind == "switch" else () if self.kind == "repeated" else self.default


class Positional:
    """The command's one positional argument, any number of words (typer's `list[...] | None = None`): every word
    that is not an option or an option's value. (This class and ArgTable are plain classes: each NamedTuple class
    adds 0.6 M instructions to a plan's start-up of 526 M, counted with valgrind.)"""

    __slots__ = ("name", "value_type")

    def __init__(self, name: str, value_type: type = str) -> None:
        self.name = name
        self.value_type = value_type  # of each word: str or Path


class ArgTable:
    """A command's parameters as it declares them to typer: the positional argument first, then the options in
    their order."""

    __slots__ = ("options", "positional")

    def __init__(self, positional: Positional, options: tuple[Option, ...]) -> None:
        self.positional = positional
        self.options = options


# `plan`'s models, then its options in the order cli/plan.py declares them.
PLAN = ArgTable(
    Positional("models"),
    (
        Option("file", ("--file", "-f"), "value", Path),
        Option("npu_type", ("--npu-type",), "value"),
        Option("server", ("--server",), "value"),
        Option("tp", ("--tp",), "value", int),
        Option("dp", ("--dp",), "value", int),
        Option("fill", ("--fill",), "switch", bool),
        Option("npus", ("--npus",), "value"),
        Option("gpu_memory_utilization", ("--gpu-memory-utilization",), "value", float),
        Option("max_model_len", ("--max-model-len",), "value", int),
        Option("port", ("--port",), "value", int),
        Option("served_name", ("--served-name",), "value"),
        Option("image", ("--image",), "value"),
        Option("models_dir", ("--models-dir",), "value", str, "/models"),
        Option("host", ("--host",), "value"),
        Option("api_key", ("--api-key",), "value"),
        Option("generate_api_key", ("--generate-api-key",), "switch", bool),
        Option("api_key_env", ("--api-key-env",), "switch", bool),
        Option("nodes", ("--node",), "repeated"),
        Option("layout", ("--layout",), "value"),
        Option("gateway", ("--gateway",), "switch", bool),
        Option("catalogs", ("--catalog",), "repeated", Path),
        Option("hardware", ("--hardware",), "repeated", Path),
        Option("out", ("--out",), "value", Path, Path(".")),
        Option("dry_run", ("--dry-run",), "switch", bool),
        Option("force", ("--force",), "switch", bool),
        Option("as_json", ("--json",), "switch", bool),
    ),
)

# `check`'s files, then its option, as cli/check.py declares them.
CHECK = ArgTable(Positional("files", Path), (Option("allow_outside", ("--allow-outside",), "switch", bool),))

# The commands main() runs without typer when parse() can read their arguments.
TABLES: dict[str, ArgTable] = {"plan": PLAN, "check": CHECK}

# Numbers as plain ASCII digits, short enough for any converter: typer (pydantic) reads more (' 3', '+3', '1_0',
# '1.0' as an int, '1e3', 'nan'), and those go to it. int() and float() read these as pydantic does.
_INT = re.compile(r"[0-9]{1,18}")
_FLOAT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")


def parse(args: list[str], table: ArgTable) -> dict[str, Any] | None:
    """The params typer would give the command declared as `table` for `args` (what follows the command's name on
    the command line), or None when typer should read them."""
    by_flag = {flag: option for option in table.options for flag in option.flags}
    positional: list[Any] = []
    given: dict[str, Any] = {}
    position = 0
    while position < len(args):
        arg = args[position]
        position += 1
        if arg == "-" or not arg.startswith("-"):
            word = _convert(arg, table.positional.value_type)
            if word is None:
                return None
            positional.append(word)
            continue
        if arg.startswith("--"):  # `--` itself, an unknown option, --help: None below
            flag, equals, inline = arg.partition("=")
            value: str | None = inline if equals else None
        else:  # a short option: -f alone, or with its value in the same word
            flag, value = arg[:2], arg[2:] or None
        option = by_flag.get(flag)
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
    params = {option.name: given.get(option.name, option.unset) for option in table.options}
    return {table.positional.name: positional or (), **params}


def _convert(value: str, kind: type) -> Any:
    """`value` as typer converts it to `kind`; None when unsure."""
    if kind is int:
        return int(value) if _INT.fullmatch(value) else None
    if kind is float:
        return float(value) if _FLOAT.fullmatch(value) else None
    if kind is Path:  # a path with NUL is typer's error (a real command line has none)
        return Path(value) if "\x00" not in value else None
    return value
