"""What a command imports when it starts (bench/README.md has the timings; no timing is asserted here), and the
root help ascendgen draws without typer, held equal to typer's own."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

import pytest

from ascendgen.cli.app import COMMANDS, build_app

from helpers import REPO, Result

Run = Callable[..., Result]

# Run in a new interpreter, as the `ascendgen` script does; print what it imported.
_IMPORTED = """
import io, json, sys, contextlib
from ascendgen.cli.app import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main(sys.argv[1:])
    except SystemExit as exc:
        assert not exc.code, exc.code
print(json.dumps(sorted(sys.modules)))
"""


def imported(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTED, *args], capture_output=True, text=True, check=False, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def packages(modules: set[str]) -> set[str]:
    return {name.split(".")[0] for name in modules}


# Costly and of no use to a command that prints a table: typer's help and traceback renderers (markdown, syntax
# highlighting) and rich's table of 3,600 emoji codes (ascendgen prints text as written, so never needs it).
RENDERERS = {"typer.rich_utils", "rich.markdown", "rich.syntax", "rich.traceback", "rich._emoji_codes"}
RENDERER_PACKAGES = {"pygments", "markdown_it"}


def test_version_imports_nothing_but_the_entry_point() -> None:
    modules = imported("--version")
    assert {m for m in modules if m.startswith("ascendgen")} == {"ascendgen", "ascendgen.cli", "ascendgen.cli.app"}
    assert not packages(modules) & {"typer", "rich", "pydantic", "yaml", "typing"}


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
def test_root_help_imports_no_command_and_no_typer(args: list[str]) -> None:
    modules = imported(*args)
    assert {m for m in modules if m.startswith("ascendgen")} == {"ascendgen", "ascendgen.cli", "ascendgen.cli.app"}
    assert not packages(modules) & {"typer", "pydantic", "yaml", "jinja2", "docker", *RENDERER_PACKAGES}
    assert not modules & RENDERERS


def test_plan_dry_run_imports_neither_docker_nor_jinja_nor_the_runtime() -> None:
    modules = imported("plan", "Qwen3-30B-A3B", "--dry-run")
    assert "ascendgen.planner" in modules  # it did plan
    # no typer (cli/fast_args.py reads the arguments), no pydantic (every record was plainly valid); a source checkout
    # has no pre-validated data and reads the YAML files, so PyYAML is not asserted here (test_prevalidated is)
    assert not packages(modules) & {"docker", "jinja2", "requests", "urllib3", "typer", "pydantic", "pydantic_core"}
    unused = {"ascendgen.runtime", "ascendgen.preflight", "ascendgen.composeconfig", "ascendgen.endpoint",
              "ascendgen.generated", "ascendgen.doctor", "ascendgen.diagnose", "ascendgen.gpustack",
              "ascendgen.cli.catalog", "ascendgen.cli.up", "ascendgen.cli.models"}  # fmt: skip
    assert not modules & unused
    assert not {m for m in modules if m.startswith("urllib.request") or m.startswith("http")}
    assert not modules & RENDERERS and not packages(modules) & RENDERER_PACKAGES


def test_importing_the_planner_and_its_data_models_imports_no_pydantic() -> None:
    """The data and request classes are records (ascendgen.records): pydantic is imported when a value must be
    decided by it, never by importing them (and with it its plugin loader, importlib.metadata)."""
    code = (
        "import json, sys, ascendgen.plans, ascendgen.modeldir, ascendgen.cli.tables, ascendgen.cli.termui; "
        "print(json.dumps(sorted(sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    modules = set(json.loads(done.stdout))
    assert "ascendgen.modeldir" in modules and "ascendgen.images" in modules
    assert not packages(modules) & {"pydantic", "pydantic_core"} and "importlib.metadata" not in modules


def test_check_of_a_plan_recipe_imports_neither_docker_nor_gpustack_nor_typer() -> None:
    modules = imported("check", str(REPO / "examples" / "qwen3-8b"))
    assert "ascendgen.generated" in modules  # it did check
    # no typer: cli/fast_args.py reads check's arguments (check is the pre-commit hook, run on every commit)
    assert not packages(modules) & {"docker", "requests", "typer", "pydantic", "pydantic_core"}
    assert not {m for m in modules if m.startswith("ascendgen.cli.")} & {"ascendgen.cli.check", "ascendgen.cli.plan"}
    assert not modules & {"ascendgen.runtime", "ascendgen.gpustack", "ascendgen.cli.gpustack", "ascendgen.endpoint"}


def test_a_command_runs_with_only_its_own_module() -> None:
    modules = imported("models", "--json")
    assert {m for m in modules if m.startswith("ascendgen.cli.")} <= {
        "ascendgen.cli.app", "ascendgen.cli.models", "ascendgen.cli.options", "ascendgen.cli.tables",
        "ascendgen.cli.termui",
    }  # fmt: skip


# ------------------------------------------------------------------------------------------- the root help


@pytest.mark.parametrize("columns", [40, 60, 80, 100, 200])
def test_root_help_is_what_typer_prints(columns: int, run: Run, monkeypatch: pytest.MonkeyPatch) -> None:
    """`--help` alone is drawn by ascendgen; `-v --help` still goes through typer, which lists the commands
    it registered from each module: the two are the same text at every width."""
    monkeypatch.setenv("COLUMNS", str(columns))
    ours, typers = run("--help"), run("--verbose", "--help")
    assert ours.exit_code == typers.exit_code == 0
    assert ours.stdout == typers.stdout
    assert run("-h").stdout == ours.stdout
    assert "Usage: ascendgen [OPTIONS]" in ours.stdout and "catalog" in ours.stdout


@pytest.mark.parametrize("columns", [60, 200])
def test_ascendgen_alone_prints_what_typer_prints(
    columns: int, run: Run, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    monkeypatch.setenv("COLUMNS", str(columns))
    ours = run()
    with pytest.raises(typer.TyperException):  # no_args_is_help: typer prints the help, then raises
        build_app()(args=[], prog_name="ascendgen", standalone_mode=False)
    assert ours.exit_code == 0
    assert ours.stdout == capsys.readouterr().out


def test_root_help_lists_every_registered_command_with_its_help() -> None:
    import typer

    group = typer.main.get_command(build_app())
    ctx = group.make_context("ascendgen", ["--help"], resilient_parsing=True)
    registered = []
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        command = group.get_command(ctx, name)  # type: ignore[attr-defined]
        registered.append((name, " ".join((command.help or "").split("\n\n")[0].split())))
    assert list(COMMANDS) == registered


def test_version_the_fast_way_and_through_typer(run: Run) -> None:
    from ascendgen import __version__

    assert run("--version").stdout == run("--verbose", "--version").stdout == f"ascendgen {__version__}\n"


def test_only_the_named_command_is_registered() -> None:
    import typer

    group = typer.main.get_command(build_app("plan"))
    ctx = group.make_context("ascendgen", ["plan"], resilient_parsing=True)
    assert group.list_commands(ctx) == ["plan"]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pln"], "No such command 'pln'"),
        (["--bogus", "plan"], "No such option: --bogus"),
        (["plan", "--bogus"], "No such option: --bogus"),
        (["-v", "plan", "Qwen3-8B", "--tp", "x"], "Invalid value for '--tp'"),
        (["plan", "No-Such-Model", "--dry-run"], "unknown model 'No-Such-Model'"),
        (["gpustack", "server", "--port", "0"], "port"),
        (["catalog", "add"], "Missing argument 'path'"),
    ],
)
def test_errors_are_the_same_with_one_command_registered_or_all(
    args: list[str], message: str, run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ascendgen.cli import app

    one = run(*args)
    monkeypatch.setattr(app, "_command_named", lambda args: None)  # build the whole app, as before
    every = run(*args)
    assert one == every
    assert one.exit_code == 2
    assert message in one.stderr and len(one.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("args", [["plan", "--help"], ["gpustack"], ["gpustack", "worker", "-h"], ["models", "--json"]])
def test_output_is_the_same_with_one_command_registered_or_all(
    args: list[str], run: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ascendgen.cli import app

    one = run(*args)
    monkeypatch.setattr(app, "_command_named", lambda args: None)
    assert one == run(*args)
    assert one.exit_code == 0 and one.stdout
