"""The command line: the app, its commands (one module each under ascendgen.cli), and main(), where errors
are caught once and shown as one line with a named exit code.

Start-up is kept short (bench/README.md): `--version` and the root help answer before typer is imported, a plain
`plan` or `check` runs without it (cli/fast_args.py reads its arguments), and a command's module is imported only
when that command runs; the typer app holds every command only when the arguments name none (the root help through
typer, an unknown command)."""

import importlib
import os
import sys

from ascendgen import __version__

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing, which `--version` has no use for
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    import typer

APP_HELP = "Plan, write and run vLLM deployments on Huawei Ascend NPUs as compose files you commit to git."

# Every command, in the order the help lists them, each with the first paragraph of its docstring (what the root
# help shows; tests/test_startup.py holds the two equal). A command is the function of the same name in
# ascendgen.cli.<name>, or what that module's register(app) adds (a command with another function name, a group).
COMMANDS: tuple[tuple[str, str], ...] = (
    ("plan", "Explain how MODEL runs on this server and write compose.yml."),
    ("models", "List the models the catalog knows, with the NPUs each needs; with --fit, what runs on a server."),
    ("check", "Exit 1 with a diff when a committed compose.yml no longer matches its recipe and the catalog."),
    ("up", "Check the host, start the deployment and wait until every endpoint answers."),
    (
        "status",
        "What runs: each service's state, health, port, NPUs, uptime, readiness, and vLLM's KV cache vs the plan.",
    ),
    ("smoke", "Send one request to every endpoint; show latency and tokens/s."),
    ("logs", "Show the containers' logs (docker compose logs)."),
    ("down", "Stop and remove the deployment's containers (docker compose down)."),
    (
        "doctor",
        "Check this host: Docker, Compose, NPU devices, driver and image CANN, npu-smi, Docker runtime, models.",
    ),
    ("calibrate", "How the planner's memory reserves compare with what vLLM measured on your servers."),
    ("diagnose", "Say why a vLLM container failed, from its log: the cause and what to check."),
    ("gpustack", "Write compose files for a GPUStack cluster on Ascend NPUs: a server and the workers that join it."),
    ("catalog", "Add models to your catalog file from their directories."),
)
# The root's own options, as (long, short, help), in the order the help lists them.
_ROOT_OPTIONS = (
    ("--version", "", "Print the version and exit."),
    ("--verbose", "-v", "Show tracebacks of unexpected errors."),
    ("--help", "-h", "Show this message and exit."),
)

_verbose = False


def _version(value: bool) -> None:
    if value:
        import typer

        from ascendgen.cli import termui

        termui.out.print(f"ascendgen {__version__}")
        raise typer.Exit()


def build_app(command: str | None = None) -> "typer.Typer":
    """The typer app with every command, or with only `command` (the one the arguments name)."""
    from typing import Annotated

    import typer

    app = typer.Typer(
        name="ascendgen",
        help=APP_HELP,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )

    # defined here, where typer is imported: typer reads these annotations when the app is built
    @app.callback()
    def _root(
        version: Annotated[
            bool, typer.Option("--version", callback=_version, is_eager=True, help=_ROOT_OPTIONS[0][2])
        ] = False,
        verbose: Annotated[bool, typer.Option("--verbose", "-v", help=_ROOT_OPTIONS[1][2])] = False,
    ) -> None:
        """Plan, write and run vLLM deployments on Huawei Ascend NPUs.

        Example: [bold]ascendgen plan Qwen3-30B-A3B[/] then [bold]docker compose up -d[/].
        """
        global _verbose
        _verbose = verbose

    for name, _ in COMMANDS:
        if command in (None, name):
            module = importlib.import_module(f"ascendgen.cli.{name}")
            register = getattr(module, "register", None)
            if register is not None:
                register(app)
            else:
                app.command()(getattr(module, name))
    return app


def __getattr__(name: str) -> "Any":
    """`from ascendgen.cli.app import app`: the whole app, built when asked for."""
    if name == "app":
        return build_app()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _command_named(args: list[str]) -> str | None:
    """The command the arguments name, after the root's own flags; None when they name none we know."""
    root_flags = {flag for long, short, _ in _ROOT_OPTIONS for flag in (long, short) if flag}
    for arg in args:
        if arg not in root_flags:
            return arg if arg in dict(COMMANDS) else None
    return None


def print_root_help(*, asked: bool = True) -> None:
    """`ascendgen --help` (`asked`) or `ascendgen` alone: the root help in typer's layout, drawn with rich alone
    (typer's help imports its markdown and traceback renderers first, which costs more than the rest of the
    start-up)."""
    from rich.columns import Columns
    from rich.console import Console
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    # no emoji codes in the help: rich's table of them is not imported (termui.py), nor by the panels' titles (Text,
    # not markup)
    console = Console(emoji=False)
    usage = Text.assemble(("Usage: ", "yellow"), "ascendgen [OPTIONS] COMMAND [ARGS]...")
    console.print(Padding(usage, 1), style="bold")
    console.print(Padding(Text(APP_HELP), (0, 1, 1, 1)))
    options = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1), highlight=True)
    for long, short, help_text in _ROOT_OPTIONS:
        types = Text.assemble(("<", "dim"), "bool", (">", "dim"), style="bold yellow")
        options.add_row(
            Text(long, "bold cyan"),
            Text(short, "bold green" if short else ""),
            "",
            "",
            types,
            Columns([Text(help_text)]),
        )
    console.print(Panel(options, border_style="dim", title=Text("Options"), title_align="left"))
    commands = Table(show_header=False, expand=True, box=None, pad_edge=False, padding=(0, 1))
    commands.add_column(style="bold cyan", no_wrap=True, width=max(len(name) for name, _ in COMMANDS))
    commands.add_column(justify="left", no_wrap=False, ratio=10)
    for name, help_text in COMMANDS:
        commands.add_row(Text(name), Text(help_text))
    console.print(Panel(commands, border_style="dim", title=Text("Commands"), title_align="left"))
    if asked:
        console.print()  # click's --help echoes typer's (empty) help string after it: one more newline


def _print_help(exc: "typer.TyperException") -> None:
    """Click's no_args_is_help raises a usage error whose message is the help text; with rich help, the text
    was printed already and the message is empty. Either way: the help on stdout, no `error:` line."""
    from ascendgen.cli import termui

    text = exc.format_message()
    if text.strip():
        termui.out.file.write(text.rstrip("\n") + "\n")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app, turn every expected failure into one line and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"]:
        sys.stdout.write(f"ascendgen {__version__}\n")
        sys.exit(0)
    if args in ([], ["--help"], ["-h"]):
        print_root_help(asked=bool(args))
        sys.exit(0)
    global _verbose
    _verbose = False  # until the root's --verbose says so (a test calls main again in the same process)
    if args[:1] in (["plan"], ["check"]):
        # typer reads a plan's or a check's arguments in more time than the command takes (bench/README.md): read
        # them without it when they are plain; with anything else (--help, a mistake), typer reads them, with its
        # help and errors
        from ascendgen.cli.fast_args import TABLES, parse

        params = parse(args[1:], TABLES[args[0]])
        if params is not None:
            _run(lambda: _run_fast(args[0], params))
            return
    _run(lambda: _run_typer(args))


def _run_fast(command: str, params: "dict[str, Any]") -> None:
    """The body of `plan` or `check` (cli/plan_run.py, cli/check_run.py) with the params cli/fast_args.py read."""
    if command == "plan":
        from ascendgen.cli.plan_run import run_plan

        run_plan(params)
    else:
        from ascendgen.cli.check_run import run_check

        run_check(params)


def _run(command: "Callable[[], None]") -> None:
    """Run a command; an expected failure ends it with one line and its exit code, Ctrl-C with 130."""
    from ascendgen.cli import termui
    from ascendgen.errors import AscendgenError, ExitCode

    try:
        command()
    except KeyboardInterrupt:
        termui.error("interrupted")
        sys.exit(130)
    except AscendgenError as exc:
        if _verbose:
            termui.err.print_exception()
        termui.error(str(exc))
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _verbose or os.environ.get("ASCENDGEN_DEBUG"):
            raise
        termui.error(f"unexpected {type(exc).__name__}: {exc} (rerun with --verbose for details)")
        sys.exit(ExitCode.FAILURE)


def _run_typer(args: list[str]) -> None:
    """The app with the command the arguments name; typer's own errors and exits as ours."""
    import typer

    from ascendgen.cli import termui
    from ascendgen.errors import ExitCode

    app = build_app(_command_named(args))
    try:
        code = app(args=args, prog_name="ascendgen", standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:  # click's Ctrl-C / Ctrl-D at a prompt
        raise KeyboardInterrupt from None
    except typer.TyperException as exc:  # usage errors: unknown option, bad value, missing argument
        if type(exc).__name__ == "NoArgsIsHelpError":  # `ascendgen gpustack` alone: help was asked
            _print_help(exc)
            sys.exit(ExitCode.OK)
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "ascendgen"
        termui.error(f"{exc.format_message()} (see '{command} --help')")
        sys.exit(ExitCode.BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    # Without standalone_mode, typer returns what the command returned (None) or the code of the Exit it raised:
    # 130 for a Ctrl-C in the command (typer/core.py, _main), 0 after --version
    if code == 130:
        raise KeyboardInterrupt
    if code:
        sys.exit(code)
