"""cli/fast_args.py: `plan`'s and `check`'s arguments read without typer, held to what typer gives each command
(the same params for the same arguments, or None to let typer read them), and main() taking that path for a plain
`plan` or `check`, with the output and exit code of the path through typer."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from hypothesis import given, settings
from hypothesis import strategies as st

from ascendgen.cli import check_run, plan_run
from ascendgen.cli.app import build_app
from ascendgen.cli.fast_args import CHECK, PLAN, TABLES, ArgTable, parse

from helpers import REPO, Run

TyperParams = Callable[[str, list[str]], "dict[str, Any] | None"]


def typer_command(name: str) -> tuple[Any, Any]:
    """The root group with only `name` registered (as main() builds it), and the command (typer's own click)."""
    group: Any = typer.main.get_command(build_app(name))
    return group, group.commands[name]


@pytest.fixture(scope="module")
def typer_params() -> TyperParams:
    """The params typer gives COMMAND for `ascendgen COMMAND ARGS` (the root group reads the arguments, as main()
    has it do), or None when typer refuses them (a usage error) or answers them itself (--help)."""
    given: list[dict[str, Any]] = []
    groups = {}
    for name in TABLES:
        group, command = typer_command(name)
        command.callback = lambda **params: given.append(params)  # what typer would call the command with
        groups[name] = group

    def parse_with_typer(name: str, args: list[str]) -> dict[str, Any] | None:
        given.clear()
        try:
            groups[name].main(args=[name, *args], prog_name="ascendgen", standalone_mode=False)
        except typer.TyperException:
            return None
        return given[0] if given else None

    return parse_with_typer


def typed(value: Any) -> Any:
    """`value` with the type of every part: 1 == True == 1.0 and [] == () must not pass for equal."""
    if isinstance(value, dict):
        return {key: typed(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value), [typed(item) for item in value]
    return type(value), value


def check_same(name: str, args: list[str], typer_params: TyperParams) -> dict[str, Any] | None:
    """parse(args) for the command `name` is None or typer's params, value for value and type for type; None
    whenever typer refuses the arguments. Returns ours."""
    ours, theirs = parse(args, TABLES[name]), typer_params(name, args)
    if theirs is None:
        assert ours is None, f"{name} {args}: typer refuses them, fast_args read {ours}"
    elif ours is not None:
        assert typed(ours) == typed(theirs), (name, args)
    return ours


# ---- each table is what typer declares -------------------------------------------------------------------------


def test_the_commands_read_without_typer() -> None:
    assert TABLES == {"plan": PLAN, "check": CHECK}


@pytest.mark.parametrize("name", TABLES)
def test_the_table_is_what_typer_declares(name: str) -> None:
    """Every parameter of typer's command, in order, as fast_args reads it: a new option declared to typer and
    not to the table (or the other way round, or a flag, default or type changed in one) fails here."""
    table = TABLES[name]
    group, command = typer_command(name)
    declared = []
    for param in command.params:
        kind = "switch" if getattr(param, "is_flag", False) else "repeated" if param.multiple else "value"
        declared.append(
            (param.name, tuple(param.opts), tuple(param.secondary_opts), kind, param.type_descriptor.annotation,
             () if param.multiple or param.nargs == -1 else param.default)
        )  # fmt: skip
        # what fast_args takes for granted: no environment variable, callback, prompt or count reads a value
        assert (param.envvar, param.callback, param.is_eager, param.required) == (None, None, False, False)
        assert getattr(param, "prompt", None) is None and not getattr(param, "count", False)
        assert param.nargs == (-1 if param.name == table.positional.name else 1)
    positional = table.positional
    listed = [(positional.name, (positional.name,), (), "value", list[positional.value_type], ())]
    for option in table.options:
        annotation = list[option.value_type] if option.kind == "repeated" else option.value_type
        listed.append((option.name, option.flags, (), option.kind, annotation, option.unset))
    assert declared == listed
    ctx = group.make_context("ascendgen", [name])
    # -h is help, never an option of the command (click gives the names in a set's order, which varies by process)
    assert set(command.get_help_option_names(ctx)) == {"-h", "--help"}
    assert ctx.token_normalize_func is None and ctx.default_map is None and ctx.auto_envvar_prefix is None
    assert command.allow_interspersed_args and not command.ignore_unknown_options and not command.allow_extra_args


# ---- the same params as typer ---------------------------------------------------------------------------------

# Read by fast_args: each gives typer's params.
PLAN_READ = [
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
    ["--tp", "08", "m", "--catalog", "", "--dry-run"],
]

# Left to typer: it refuses them, or reads them in a way fast_args does not copy.
PLAN_LEFT_TO_TYPER = [
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


CHECK_READ = [
    [],
    ["examples/qwen3-8b"],
    ["deploy/a/compose.yml", "deploy/b/compose.yml", "--allow-outside", "deploy/c"],
    ["--allow-outside"],
    ["--allow-outside", "--allow-outside", "x"],
    ["-"],  # `-` alone is a file named `-` (typer's Path does not read it as stdin)
    [""],  # Path('') is '.'
    ["a b", "é/ß.yml", "a=b"],
]

CHECK_LEFT_TO_TYPER = [
    ["--help"],
    ["-h"],
    ["x", "-h"],
    ["--", "-x"],
    ["x", "--", "y"],
    ["--allow-outside=1"],
    ["--allow-outside="],
    ["--allow"],  # no abbreviations in click
    ["-v"],  # --verbose is the root's: before `check`
    ["--dry-run"],  # plan's, not check's
    ["-f", "x"],
    ["x", "--bogus"],
    ["\x00"],
]

READ = [("plan", args) for args in PLAN_READ] + [("check", args) for args in CHECK_READ]
LEFT_TO_TYPER = [("plan", args) for args in PLAN_LEFT_TO_TYPER] + [("check", args) for args in CHECK_LEFT_TO_TYPER]


@pytest.mark.parametrize(("name", "args"), READ, ids=lambda value: repr(value) if isinstance(value, list) else value)
def test_plain_arguments_are_read_as_typer_reads_them(name: str, args: list[str], typer_params: TyperParams) -> None:
    assert check_same(name, args, typer_params) is not None


@pytest.mark.parametrize(
    ("name", "args"), LEFT_TO_TYPER, ids=lambda value: repr(value) if isinstance(value, list) else value
)
def test_anything_else_is_left_to_typer(name: str, args: list[str], typer_params: TyperParams) -> None:
    assert check_same(name, args, typer_params) is None


def test_defaults_and_lists_are_typers() -> None:
    """Spelled out once (the comparisons above check it against typer): nothing given is the default, the
    positional argument and a repeated option given nothing are (), given some a list; paths are Path."""
    params = parse(["m", "--catalog", "c.yaml"], PLAN)
    assert params is not None
    assert params["models"] == ["m"] and params["catalogs"] == [Path("c.yaml")] and params["nodes"] == ()
    assert (params["out"], params["models_dir"], params["file"], params["dry_run"]) == (
        Path("."),
        "/models",
        None,
        False,
    )
    assert parse([], PLAN)["models"] == ()  # type: ignore[index]
    assert parse([], CHECK) == {"files": (), "allow_outside": False}
    assert parse(["a", "--allow-outside", "b/compose.yml"], CHECK) == {
        "files": [Path("a"), Path("b/compose.yml")],
        "allow_outside": True,
    }


# Flags of no command here, or of another one: each table must leave them to typer.
STRANGE_FLAGS = ["-f", "-h", "-v", "-x", "--help", "--bogus", "--", "-", "--dry-run", "--allow-outside"]
NUMBERS = st.from_regex(r"[0-9]{1,20}(\.[0-9]{0,17})?", fullmatch=True)
ODD = st.sampled_from(["0", "-1", "1e3", "08", " 3", "nan", "", "-", "--", "-x", "-h", "--help", "a=b", "1.", ".5"])
WORDS = st.one_of(ODD, NUMBERS, st.text(max_size=6), st.sampled_from(["Qwen3-8B", "/models/a b", "é", "compose.yml"]))


def tokens(table: ArgTable) -> st.SearchStrategy[str]:
    """Any word on the command line of the command declared as `table`: its flags, with or without a value,
    other flags, and words."""
    long_flags = [flag for option in table.options for flag in option.flags if flag.startswith("--")]
    short_flags = [flag for option in table.options for flag in option.flags if not flag.startswith("--")] or ["-f"]
    return st.one_of(
        st.sampled_from([*long_flags, *short_flags, *STRANGE_FLAGS]),
        WORDS,
        st.builds(lambda flag, value: f"{flag}={value}", st.sampled_from(long_flags), WORDS),
        st.builds(lambda flag, value: f"{flag}{value}", st.sampled_from(short_flags), WORDS),
    )


ANY_ARGUMENTS = {name: st.lists(tokens(table), max_size=8) for name, table in TABLES.items()}


@pytest.mark.parametrize("name", TABLES)
@settings(deadline=None)
@given(data=st.data())
def test_any_arguments_give_typers_params_or_none(name: str, data: st.DataObject, typer_params: TyperParams) -> None:
    check_same(name, data.draw(ANY_ARGUMENTS[name], label="args"), typer_params)


def plain_value(option_type: type) -> st.SearchStrategy[str]:
    if option_type is int:
        return st.from_regex(r"[0-9]{1,18}", fullmatch=True)
    if option_type is float:
        return st.from_regex(r"[0-9]{1,15}(\.[0-9]{1,15})?", fullmatch=True)
    return st.text(max_size=8).filter(lambda text: not text.startswith("-") and "\x00" not in text)


@st.composite
def plain_arguments(draw: st.DrawFn, table: ArgTable) -> list[str]:
    """Positional words, and options each with a value of its type: what a user writes."""
    args: list[str] = []
    for option in draw(st.lists(st.sampled_from(table.options), max_size=6)):
        if draw(st.booleans()):
            args.append(draw(st.one_of(st.just("-"), plain_value(table.positional.value_type))))
        flag = draw(st.sampled_from(option.flags))
        if option.kind == "switch":
            args.append(flag)
            continue
        value = draw(plain_value(option.value_type))
        if flag == "-f":
            args += draw(st.sampled_from([["-f", value], [f"-f{value}"] if value else ["-f", value]]))
        else:
            args += draw(st.sampled_from([[flag, value], [f"{flag}={value}"]]))
    args += draw(st.lists(plain_value(table.positional.value_type), max_size=2))
    return args


PLAIN_ARGUMENTS = {name: plain_arguments(table) for name, table in TABLES.items()}


@pytest.mark.parametrize("name", TABLES)
@settings(deadline=None)
@given(data=st.data())
def test_plain_arguments_give_typers_params(name: str, data: st.DataObject, typer_params: TyperParams) -> None:
    args = data.draw(PLAIN_ARGUMENTS[name], label="args")
    assert check_same(name, args, typer_params) is not None, args


# ---- main() takes the way without typer, with the output of the way through typer ---------------------------

# `ascendgen ARGS` in a new interpreter, as the `ascendgen` script runs it, with its exit code; then, after all
# it printed, whether typer was imported (the last line on stderr)
CHILD = """
import sys
from ascendgen.cli.app import main
code = 0
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
sys.stderr.write("\\ntyper imported: " + str("typer" in sys.modules))
sys.exit(code)
"""


class Child:
    """What a child process printed and exited with, and whether it imported typer."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, env=env, timeout=60)
        self.exit_code, self.stdout = done.returncode, done.stdout
        self.stderr, _, marker = done.stderr.rpartition(b"\n")
        self.typer_imported = {b"typer imported: True": True, b"typer imported: False": False}[marker]

    def output(self) -> tuple[int, bytes, bytes]:
        return self.exit_code, self.stdout, self.stderr


FAST = ["plan", "Qwen3-30B-A3B", "--dry-run"]
THROUGH_TYPER = ["plan", "--dry-run", "--", "Qwen3-30B-A3B"]  # the same params: `--` is left to typer


@pytest.fixture
def child_env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "100", "NO_COLOR": "1", "PYTHONPATH": str(REPO / "src")}


def test_plan_without_typer_prints_what_plan_through_typer_prints(child_env: dict[str, str]) -> None:
    assert parse(FAST[1:], PLAN) is not None and parse(THROUGH_TYPER[1:], PLAN) is None
    fast, typers = Child(FAST, child_env), Child(THROUGH_TYPER, child_env)
    assert fast.output() == typers.output()
    assert fast.exit_code == 0, fast.stderr
    assert b"Qwen3-30B-A3B" in fast.stdout and b"Tensor parallel" in fast.stdout
    assert (fast.typer_imported, typers.typer_imported) == (False, True)


@pytest.mark.parametrize(
    ("args", "typer_imported"),
    [
        (FAST, False),
        (THROUGH_TYPER, True),
        (["plan", "No-Such-Model"], False),
        (["plan", "m", "--tp", "x"], True),
        (["check", "--allow-outside", str(REPO / "examples" / "qwen3-8b")], False),
        (["check", "--help"], True),
        (["check", "--bogus"], True),
    ],
)
def test_a_plain_plan_or_check_does_not_import_typer(
    args: list[str], typer_imported: bool, child_env: dict[str, str]
) -> None:
    assert Child(args, child_env).typer_imported is typer_imported


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Compose files for check: up to date, drifted (edited by hand), missing, one without a recipe, and one whose
    recipe reads a catalog outside its directory (no git repository here: check reads only beside the file
    unless --allow-outside)."""
    root = tmp_path_factory.mktemp("check")
    catalog = root / "catalogs" / "mine.yaml"
    catalog.parent.mkdir()
    catalog.write_text("models:\n  - name: Qwen3-8B\n    served_name: qwen3\n")
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    for name, options in (("fresh", []), ("drifted", []), ("outside", ["--catalog", str(catalog)])):
        subprocess.run([sys.executable, "-m", "ascendgen", "plan", "Qwen3-8B", *options, "--out", str(root / name)],
                       env=env, check=True, capture_output=True, timeout=60)  # fmt: skip
    drifted = root / "drifted" / "compose.yml"
    drifted.write_text(drifted.read_text().replace("shm_size: 1g", "shm_size: 2g"))
    (root / "plain").mkdir()
    (root / "plain" / "compose.yml").write_text("services:\n  mine:\n    image: busybox\n")
    return {
        "fresh": root / "fresh",
        "drifted": drifted,
        "missing": root / "missing" / "compose.yml",
        "plain": root / "plain",
        "outside": root / "outside",
    }


@pytest.mark.parametrize(
    ("files", "options", "exit_code", "says"),
    [
        (["fresh"], [], 0, b"compose.yml: up to date\n"),
        (["drifted"], [], 1, b"compose.yml: edited by hand since ascendgen wrote it\n"),
        (["missing"], [], 1, b"compose.yml: cannot read: No such file or directory\n"),
        (["plain"], [], 1, b"compose.yml: not written by ascendgen"),
        (["outside"], [], 1, b"--catalog ../catalogs/mine.yaml: outside "),
        (["outside"], ["--allow-outside"], 0, b"compose.yml: up to date\n"),
        (["fresh", "drifted", "missing", "plain", "outside", "fresh"], [], 1, b"error: 4 compose file(s) differ"),
        (["fresh", "outside", "drifted"], ["--allow-outside"], 1, b"error: 1 compose file(s) differ"),
    ],
    ids=["up to date", "drifted", "missing", "no recipe", "outside", "allowed outside", "several", "several allowed"],
)
def test_check_without_typer_prints_what_check_through_typer_prints(
    files: list[str],
    options: list[str],
    exit_code: int,
    says: bytes,
    checked: dict[str, Path],
    child_env: dict[str, str],
) -> None:
    """The same output and exit code by either way: through typer when `--` ends the options (fast_args leaves
    that to typer), and when the root's --verbose comes first (main() reads only a plain `check ...`), which adds
    the traceback of the final error."""
    paths = [str(checked[name]) for name in files]
    fast_args, typer_args, verbose_args = ["check", *options, *paths], ["check", *options, "--", *paths], ["-v"]
    verbose_args += fast_args
    assert parse(fast_args[1:], CHECK) is not None and parse(typer_args[1:], CHECK) is None
    fast, typers, verbose = (Child(args, child_env) for args in (fast_args, typer_args, verbose_args))
    assert fast.output() == typers.output()
    assert fast.exit_code == exit_code and says in fast.stderr, fast.stderr
    if "drifted" in files:  # the diff, on stdout
        assert b"\n-    shm_size: 2g\n" in fast.stdout and b"\n+    shm_size: 1g\n" in fast.stdout, fast.stdout
    else:
        assert fast.stdout == b""
    assert (fast.typer_imported, typers.typer_imported, verbose.typer_imported) == (False, True, True)
    assert (verbose.exit_code, verbose.stdout) == (fast.exit_code, fast.stdout)
    if exit_code == 0:
        assert verbose.stderr == fast.stderr
    else:  # each file's line, the traceback, the final error
        *lines, last = fast.stderr.splitlines(keepends=True)
        assert verbose.stderr.startswith(b"".join(lines)) and verbose.stderr.endswith(last)
        assert b"Traceback" in verbose.stderr


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
    assert parse([*models, *options], PLAN) is not None
    fast, typers = run("plan", *models, *options), run("plan", *options, "--", *models)
    assert fast == typers
    assert fast.exit_code == 2 and fast.stdout == "" and len(fast.stderr.strip().splitlines()) == 1, fast


# the same command read both ways; the module whose body it runs
BOTH_WAYS = [
    (plan_run, "run_plan", FAST),
    (plan_run, "run_plan", THROUGH_TYPER),
    (plan_run, "run_plan", ["-v", *FAST]),
    (check_run, "run_check", ["check", "x"]),
    (check_run, "run_check", ["check", "--", "x"]),
]


@pytest.mark.parametrize(("module", "body", "args"), BOTH_WAYS)
def test_ctrl_c_is_interrupted_both_ways(
    module: object, body: str, args: list[str], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(params: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(module, body, interrupted)
    result = run(*args)
    assert (result.exit_code, result.stdout, result.stderr) == (130, "", "error: interrupted\n")


@pytest.mark.parametrize(("module", "body", "fast", "typers"), [
    (plan_run, "run_plan", FAST, THROUGH_TYPER),
    (check_run, "run_check", ["check", "x"], ["check", "--", "x"]),
])  # fmt: skip
def test_an_unexpected_error_without_typer_is_one_line(
    module: object, body: str, fast: list[str], typers: list[str], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(params: object) -> None:
        raise ValueError("boom")

    monkeypatch.setattr(module, body, broken)
    monkeypatch.delenv("ASCENDGEN_DEBUG", raising=False)
    one, other = run(*fast), run(*typers)
    assert one == other
    assert (one.exit_code, one.stderr) == (1, "error: unexpected ValueError: boom (rerun with --verbose for details)\n")
