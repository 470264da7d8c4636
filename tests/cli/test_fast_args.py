"""cli/fast_args.py: plan's arguments read without typer, held to what typer gives the command (the same params
for the same arguments, or None to let typer read them), and main() taking that path for a plain `plan`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ascendgen.cli import plan_run
from ascendgen.cli.app import build_app
from ascendgen.cli.fast_args import MODELS, PLAN_OPTIONS, parse_plan_args

from helpers import Run

TyperParams = Callable[[list[str]], "dict[str, Any] | None"]


@pytest.fixture(scope="module")
def typer_params() -> TyperParams:
    """The params typer gives `plan` for `ascendgen plan ARGS` (the root group reads the arguments, as main()
    has it do), or None when typer refuses them (a usage error) or answers them itself (--help)."""
    group = typer.main.get_command(build_app("plan"))
    command = group.commands["plan"]
    given: list[dict[str, Any]] = []
    command.callback = lambda **params: given.append(params)  # what typer would call plan() with

    def parse(args: list[str]) -> dict[str, Any] | None:
        given.clear()
        try:
            group.main(args=["plan", *args], prog_name="ascendgen", standalone_mode=False)
        except typer.TyperException:
            return None
        return given[0] if given else None

    return parse


def typed(value: Any) -> Any:
    """`value` with the type of every part: 1 == True == 1.0 and [] == () must not pass for equal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value), [typed(item) for item in value]
    return type(value), value


def check_same(args: list[str], typer_params: TyperParams) -> dict[str, Any] | None:
    """parse_plan_args(args) is None or typer's params, value for value and type for type; None whenever typer
    refuses the arguments. Returns ours."""
    ours, theirs = parse_plan_args(args), typer_params(args)
    if theirs is None:
        assert ours is None, f"{args}: typer refuses them, plan_args read {ours}"
    elif ours is not None:
        assert typed(ours) == typed(theirs), args
    return ours


# ---- the table is what typer declares --------------------------------------------------------------------------


def test_the_option_table_is_what_typer_declares_for_plan() -> None:
    """Every parameter of typer's `plan`, in order, as plan_args reads it: a new option declared to typer and not
    to PLAN_OPTIONS (or the other way round, or a flag, default or type changed in one) fails here."""
    group = typer.main.get_command(build_app("plan"))
    command = group.commands["plan"]
    declared = []
    for param in command.params:
        kind = "switch" if getattr(param, "is_flag", False) else "repeated" if param.multiple else "value"
        declared.append(
            (param.name, tuple(param.opts), tuple(param.secondary_opts), kind, param.type_descriptor.annotation,
             () if param.multiple or param.nargs == -1 else param.default)
        )  # fmt: skip
        # what plan_args takes for granted: no environment variable, callback, prompt or count reads a value
        assert (param.envvar, param.callback, param.is_eager, param.required) == (None, None, False, False)
        assert getattr(param, "prompt", None) is None and not getattr(param, "count", False)
        assert param.nargs == (-1 if param.name == MODELS else 1)
    listed = [(MODELS, (MODELS,), (), "value", list[str], ())]
    for option in PLAN_OPTIONS:
        annotation = list[option.value_type] if option.kind == "repeated" else option.value_type
        listed.append((option.name, option.flags, (), option.kind, annotation, option.unset))
    assert declared == listed
    ctx = group.make_context("ascendgen", ["plan"])
    # -h is help, never an option of plan (click gives the names in a set's order, which varies by process)
    assert set(command.get_help_option_names(ctx)) == {"-h", "--help"}
    assert ctx.token_normalize_func is None and ctx.default_map is None and ctx.auto_envvar_prefix is None
    assert command.allow_interspersed_args and not command.ignore_unknown_options and not command.allow_extra_args


# ---- the same params as typer ---------------------------------------------------------------------------------

# Read by plan_args: each gives typer's params.
READ = [
    [],
    ["Qwen3-30B-A3B", "--dry-run"],
    ["--dry-run", "Qwen3-30B-A3B"],
    ["Qwen3-30B-A3B", "Qwen2.5-7B-Instruct", "--port", "8001", "--gateway", "--generate-api-key"],
    ["-f", "ascendgen.yaml", "--dry-run"],
    ["-fascendgen.yaml"],
    ["-f=x"],  # click: -f with the value '=x'
    ["-f", ""],  # Path('') is '.'
    ["--file=a=b", "--out=", "--server="],
    ["m", "--node", "10.0.0.1:eth0", "x", "--node", "10.0.0.2:eth0", "--layout", "tp", "y"],
    ["m", "--catalog", "a.yaml", "--catalog", "b.yaml", "--hardware", "hw.yaml", "--hardware=hw2.yaml"],
    ["m", "--tp", "0", "--dp", "08", "--max-model-len", "32768", "--port=1"],
    ["m", "--tp", "4", "--tp", "2"],  # the last one counts
    ["m", "--gpu-memory-utilization", "0.9", "--npus", "4-7", "--npu-type", "910B3", "--server", "atlas"],
    ["m", "--gpu-memory-utilization=1"],
    ["m", "--served-name", "chat", "--image", "v0.9.2rc1", "--models-dir", "/data/models", "--host", "127.0.0.1"],
    ["m", "--api-key", "sk-abc", "--api-key-env", "--fill", "--force", "--json", "--out", "/tmp/out"],
    ["-", "m"],  # `-` alone is a word, not an option
    ["m", "--dry-run", "--dry-run"],
    ["m", "--server", " spaced ", "--npus", "é,ß"],
    ["m", "--out", "dir/with space"],
    ["m", "--server=--dry-run"],  # an explicit value is the value, whatever it looks like
    ["-f-x"],  # -f with the value '-x'
    ["m", "-fh"],  # -f with the value 'h', not -f and -h
]

# Left to typer: it refuses them, or reads them in a way plan_args does not copy.
LEFT_TO_TYPER = [
    ["--help"],
    ["m", "-h"],
    ["m", "--bogus"],
    ["m", "-x"],  # -x: no such option; a model named -x comes after `--`
    ["--", "-x"],
    ["m", "--", "--dry-run"],
    ["m", "--tp"],  # missing value
    ["m", "--node"],
    ["m", "-f"],
    ["m", "--tp", "-1"],
    ["m", "--port", "--dry-run"],  # typer: '--dry-run' is not a valid integer
    ["m", "--server", "--dry-run"],  # typer: the server '--dry-run'; the user surely forgot the value
    ["m", "--tp", "1e3"],
    ["m", "--tp", " 3"],
    ["m", "--tp", "+3"],
    ["m", "--tp", "1_0"],
    ["m", "--tp", "1.0"],
    ["m", "--tp", "٣"],
    ["m", "--tp", ""],
    ["m", "--tp="],
    ["m", "--tp", "9" * 19],
    ["m", "--gpu-memory-utilization", "nan"],
    ["m", "--gpu-memory-utilization", ".5"],
    ["m", "--gpu-memory-utilization", "1."],
    ["m", "--gpu-memory-utilization", "inf"],
    ["m", "--dry-run=1"],
    ["m", "--dry-run="],
    ["m", "-v"],  # --verbose is the root's: before `plan`
    ["m", "--verbose"],
    ["m", "---dry-run"],
    ["m", "--dry"],  # no abbreviations in click
    ["-f", "\x00"],
]


@pytest.mark.parametrize("args", READ, ids=" ".join)
def test_plan_args_reads_plain_arguments_as_typer(args: list[str], typer_params: TyperParams) -> None:
    assert check_same(args, typer_params) is not None


@pytest.mark.parametrize("args", LEFT_TO_TYPER, ids=repr)
def test_anything_else_is_left_to_typer(args: list[str], typer_params: TyperParams) -> None:
    assert check_same(args, typer_params) is None


def test_defaults_and_lists_are_typers() -> None:
    """Spelled out once (the comparisons above check it against typer): nothing given is the default, the models
    and a repeated option given nothing are (), given some a list; paths are Path."""
    params = parse_plan_args(["m", "--catalog", "c.yaml"])
    assert params is not None
    assert params[MODELS] == ["m"] and params["catalogs"] == [Path("c.yaml")] and params["nodes"] == ()
    assert (params["out"], params["models_dir"], params["file"], params["dry_run"]) == (
        Path("."),
        "/models",
        None,
        False,
    )
    assert parse_plan_args([])[MODELS] == ()  # type: ignore[index]


LONG_FLAGS = [flag for option in PLAN_OPTIONS for flag in option.flags if flag.startswith("--")]
NUMBERS = st.from_regex(r"[0-9]{1,20}(\.[0-9]{0,17})?", fullmatch=True)
ODD = st.sampled_from(["0", "-1", "1e3", "08", " 3", "nan", "", "-", "--", "-x", "-h", "--help", "a=b", "1.", ".5"])
WORDS = st.one_of(ODD, NUMBERS, st.text(max_size=6), st.sampled_from(["Qwen3-8B", "/models/a b", "é"]))
TOKENS = st.one_of(
    st.sampled_from([*LONG_FLAGS, "-f", "-h", "-v", "--bogus", "--", "-"]),
    WORDS,
    st.builds(lambda flag, value: f"{flag}={value}", st.sampled_from(LONG_FLAGS), WORDS),
    st.builds(lambda value: f"-f{value}", WORDS),
)


@settings(deadline=None)
@given(args=st.lists(TOKENS, max_size=8))
@example(args=["--tp", "08", "m", "--catalog", "", "--dry-run"])
def test_any_arguments_give_typers_params_or_none(args: list[str], typer_params: TyperParams) -> None:
    check_same(args, typer_params)


def plain_value(option_type: type) -> st.SearchStrategy[str]:
    if option_type is int:
        return st.from_regex(r"[0-9]{1,18}", fullmatch=True)
    if option_type is float:
        return st.from_regex(r"[0-9]{1,15}(\.[0-9]{1,15})?", fullmatch=True)
    return st.text(max_size=8).filter(lambda text: not text.startswith("-") and "\x00" not in text)


@st.composite
def plain_arguments(draw: st.DrawFn) -> list[str]:
    """Models, and options each with a value of its type: what a user writes."""
    args: list[str] = []
    for option in draw(st.lists(st.sampled_from(PLAN_OPTIONS), max_size=6)):
        if draw(st.booleans()):
            args.append(draw(st.text(max_size=8).filter(lambda text: not text.startswith("-") or text == "-")))
        flag = draw(st.sampled_from(option.flags))
        if option.kind == "switch":
            args.append(flag)
            continue
        value = draw(plain_value(option.value_type))
        if flag == "-f":
            args += draw(st.sampled_from([["-f", value], [f"-f{value}"] if value else ["-f", value]]))
        else:
            args += draw(st.sampled_from([[flag, value], [f"{flag}={value}"]]))
    return args


@settings(deadline=None)
@given(args=plain_arguments())
def test_plain_arguments_are_read_and_give_typers_params(args: list[str], typer_params: TyperParams) -> None:
    assert check_same(args, typer_params) is not None, args


# ---- main() takes the way without typer -------------------------------------------------------------------------

CHILD = """
import sys
from ascendgen.cli.app import main
try:
    main(sys.argv[1:])
except SystemExit:
    pass
sys.stdout.flush()
sys.stderr.write("typer imported: " + str("typer" in sys.modules))
"""
FAST = ["plan", "Qwen3-30B-A3B", "--dry-run"]
THROUGH_TYPER = ["plan", "--dry-run", "--", "Qwen3-30B-A3B"]  # the same params: `--` is left to typer


@pytest.fixture
def child_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "100", "NO_COLOR": "1"}


def test_plan_without_typer_prints_what_plan_through_typer_prints(child_env: dict[str, str]) -> None:
    assert parse_plan_args(FAST[1:]) is not None and parse_plan_args(THROUGH_TYPER[1:]) is None
    fast, typers = (
        subprocess.run([sys.executable, "-m", "ascendgen", *args], capture_output=True, env=child_env, timeout=60)
        for args in (FAST, THROUGH_TYPER)
    )
    assert fast.returncode == typers.returncode == 0, fast.stderr
    assert fast.stdout == typers.stdout and fast.stderr == typers.stderr
    assert b"Qwen3-30B-A3B" in fast.stdout and b"Tensor parallel" in fast.stdout


@pytest.mark.parametrize(
    ("args", "typer_imported"),
    [(FAST, False), (THROUGH_TYPER, True), (["plan", "No-Such-Model"], False), (["plan", "m", "--tp", "x"], True)],
)
def test_a_plain_plan_does_not_import_typer(args: list[str], typer_imported: bool, child_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *args], capture_output=True, text=True, env=child_env, timeout=60, check=True
    )
    assert done.stderr.splitlines()[-1] == f"typer imported: {typer_imported}"


@pytest.mark.parametrize(
    ("models", "options"),
    [
        (["No-Such-Model"], ["--dry-run"]),
        ([], ["--dry-run"]),  # name a model
        (["Qwen3-8B", "Qwen3-30B-A3B"], ["--tp", "2"]),  # ambiguous with several models
        (["Qwen3-8B"], ["--tp", "3"]),
        (["Qwen3-8B"], ["--api-key", "k", "--generate-api-key"]),
        (["Qwen3-8B"], ["-f", "ascendgen.yaml"]),
    ],
)
def test_errors_without_typer_are_the_errors_through_typer(models: list[str], options: list[str], run: Run) -> None:
    assert parse_plan_args([*models, *options]) is not None
    fast, typers = run("plan", *models, *options), run("plan", *options, "--", *models)
    assert fast == typers
    assert fast.exit_code == 2 and fast.stdout == "" and len(fast.stderr.strip().splitlines()) == 1, fast


@pytest.mark.parametrize("args", [FAST, THROUGH_TYPER, ["-v", *FAST]])
def test_ctrl_c_in_plan_is_interrupted_both_ways(args: list[str], run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(params: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(plan_run, "run_plan", interrupted)
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "error: interrupted\n")


def test_an_unexpected_error_without_typer_is_one_line(run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(params: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(plan_run, "run_plan", broken)
    monkeypatch.delenv("ASCENDGEN_DEBUG", raising=False)
    fast, typers = run(*FAST), run(*THROUGH_TYPER)
    assert fast == typers
    assert (fast.exit_code, fast.stderr) == (
        1,
        "error: unexpected ValueError: boom (rerun with --verbose for details)\n",
    )
