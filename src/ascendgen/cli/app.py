"""The command line: the app, its commands (one module each under ascendgen.cli), and main(), where errors
are caught once and shown as one line with a named exit code."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from ascendgen import __version__
from ascendgen.cli import (
    calibrate,
    catalog,
    check,
    diagnose,
    doctor,
    down,
    gpustack,
    logs,
    models,
    plan,
    smoke,
    status,
    termui,
    up,
)
from ascendgen.errors import AscendgenError, ExitCode

app = typer.Typer(
    name="ascendgen",
    help="Plan, write and run vLLM deployments on Huawei Ascend NPUs as compose files you commit to git.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

_verbose = False


def _version(value: bool) -> None:
    if value:
        termui.out.print(f"ascendgen {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show tracebacks of unexpected errors.")] = False,
) -> None:
    """Plan, write and run vLLM deployments on Huawei Ascend NPUs.

    Example: [bold]ascendgen plan Qwen3-30B-A3B[/] then [bold]docker compose up -d[/].
    """
    global _verbose
    _verbose = verbose


for command in (plan.plan, models.models, check.check, up.up, status.status, smoke.smoke, logs.logs, down.down,
                calibrate.calibrate):  # fmt: skip
    app.command()(command)
doctor.register(app)
diagnose.register(app)
gpustack.register(app)
catalog.register(app)


def _print_help(exc: typer.TyperException) -> None:
    """Click's no_args_is_help raises a usage error whose message is the help text; with rich help, the text
    was printed already and the message is empty. Either way: the help on stdout, no `error:` line."""
    text = exc.format_message()
    if text.strip():
        termui.out.file.write(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turn every expected failure into one line and an exit code."""
    try:
        app(args=argv, prog_name="ascendgen", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        termui.error("interrupted")
        sys.exit(130)
    except AscendgenError as exc:
        if _verbose:
            termui.err.print_exception()
        termui.error(str(exc))
        sys.exit(exc.exit_code)
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # `ascendgen` or `ascendgen gpustack` alone: help was asked
            _print_help(exc)
            sys.exit(ExitCode.OK)
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "ascendgen"
        termui.error(f"{exc.format_message()} (see '{command} --help')")
        sys.exit(ExitCode.BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    except Exception as exc:
        if _verbose or os.environ.get("ASCENDGEN_DEBUG"):
            raise
        termui.error(f"unexpected {type(exc).__name__}: {exc} (rerun with --verbose for details)")
        sys.exit(ExitCode.FAILURE)
