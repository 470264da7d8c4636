"""The command line: parse flags, call ascendgen.plans, print with termui. Errors are caught once, in
main(), and shown as one line with a named exit code."""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path
from typing import Annotated

import typer

from ascendgen import __version__
from ascendgen.catalog import load_catalog
from ascendgen.cli import catalog, diagnose, doctor, gpustack, runtime_commands, termui
from ascendgen.cli.tables import catalog_table, instances_table, model_json, plan_table
from ascendgen.deployfile import load_deployment
from ascendgen.endpoint import check_api_key
from ascendgen.envfile import ENV_FILE, generate_secret
from ascendgen.errors import AscendgenError, ExitCode, InputError
from ascendgen.generated import check_compose, compose_targets, confine, recipe_file, render_plan_recipe, write_compose
from ascendgen.hardware import DEFAULT_SERVER, load_hardware
from ascendgen.planner import API_KEY_ENV
from ascendgen.plans import make_plans
from ascendgen.request import PlanRequest, request_from_flags, request_from_recipe
from ascendgen.safetext import has_control_chars

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


CatalogOpt = Annotated[
    list[Path] | None,
    typer.Option("--catalog", help="A catalog file merged over the built-in models.yaml (repeatable).", metavar="FILE"),
]
HardwareOpt = Annotated[
    list[Path] | None,
    typer.Option("--hardware", help="A hardware file merged over the built-in hardware.yaml.", metavar="FILE"),
]


@app.command()
def plan(
    ctx: typer.Context,
    models: Annotated[
        list[str] | None,
        typer.Argument(
            help="Catalog names, hub ids or model directories inside --models-dir, e.g. Qwen3-30B-A3B or "
            "/models/me/My-Model; several share the server.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="A deployment file (ascendgen.yaml) listing instances.")
    ] = None,
    npu_type: Annotated[str | None, typer.Option(help="NPU type, e.g. 910B4, 910B3, 310P3.")] = None,
    server: Annotated[str | None, typer.Option(help="Server profile (default atlas-800i-a2: 8 x 910B4).")] = None,
    tp: Annotated[
        int | None, typer.Option("--tp", help="Tensor-parallel size (default: the smallest that fits).")
    ] = None,
    npus: Annotated[str | None, typer.Option(help="NPUs to use: '0-3' or '4,5,6,7' (default: packed).")] = None,
    gpu_memory_utilization: Annotated[
        float | None, typer.Option(help="Share of each NPU's memory vLLM may use (default: the image's vLLM default).")
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option(help="Context length to serve (default: the most the KV cache holds).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port the API listens on; with several models, the first port.")
    ] = None,
    served_name: Annotated[str | None, typer.Option(help="Name clients ask for (default: the hub id).")] = None,
    image: Annotated[str | None, typer.Option(help="Image tag (v0.9.2rc1) or full reference.")] = None,
    models_dir: Annotated[str, typer.Option(help="Host directory holding <org>/<model> folders.")] = "/models",
    host: Annotated[
        str | None, typer.Option(help="Address the API binds, e.g. 127.0.0.1 (default: all interfaces).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Require this API key; kept in .env (0600, git-ignored), not in compose.yml.")
    ] = None,
    generate_api_key: Annotated[
        bool, typer.Option("--generate-api-key", help="Like --api-key, with a random key.")
    ] = False,
    api_key_env: Annotated[
        bool,
        typer.Option(
            "--api-key-env", help="Require the API key already in .env as VLLM_API_KEY (what the recipe records)."
        ),
    ] = False,
    nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            help="A server of a multi-node plan, ADDRESS:INTERFACE (repeat; the first is the Ray head).",
            metavar="ADDR:IF",
        ),
    ] = None,
    layout: Annotated[
        str | None, typer.Option(help="With --node: tp (TP over all NPUs), tp-pp (TP x PP) or ep (TP + EP).")
    ] = None,
    catalogs: CatalogOpt = None,
    hardware: HardwareOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Directory to write compose.yml into.")] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Explain the plan; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a compose.yml edited by hand.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON for scripts.")] = False,
) -> None:
    """Explain how MODEL runs on this server and write compose.yml.

    Example: [bold]ascendgen plan Qwen3-30B-A3B --npus 4-7 --port 8001[/];
    several: [bold]ascendgen plan Qwen3-30B-A3B Qwen2.5-Coder-32B-Instruct --port 8001[/]
    """
    secrets = _api_key_secrets(api_key, generate_api_key)
    require_key = api_key_env or api_key is not None or generate_api_key
    if file is not None:
        request = _deployment_request(file, models, host=host, nodes=nodes, layout=layout, api_key_env=require_key)
    else:
        request = request_from_flags(models or [], {**ctx.params, "api_key_env": require_key})
    plans = make_plans(request)
    if secrets is None and request.api_key_env:
        secrets = {}  # the key is in .env already: keep it 0600 and git-ignored
    written = [] if dry_run else write_compose(plans, request, out, force=force, secrets=secrets)
    if as_json:
        termui.print_json(plans[0].to_json() if len(plans) == 1 else [p.to_json() for p in plans])
    else:
        for result in plans:
            termui.out.print(plan_table(result))
        if len(plans) > 1:
            termui.out.print(instances_table(plans))
    for path in written:
        termui.success(f"wrote {path}" + (f" and the API key to {path.parent / ENV_FILE}" if secrets else ""))


def _api_key_secrets(api_key: str | None, generate: bool) -> dict[str, str] | None:
    """The API key plan sets in .env: the one given (checked before anything is planned) or a new one."""
    if api_key is not None and generate:
        raise InputError("--api-key and --generate-api-key: give one of them")
    if api_key is not None:
        return {API_KEY_ENV: check_api_key(api_key)}
    return {API_KEY_ENV: generate_secret()} if generate else None


def _deployment_request(
    file: Path,
    models: list[str] | None,
    *,
    host: str | None,
    nodes: list[str] | None,
    layout: str | None,
    api_key_env: bool,
) -> PlanRequest:
    if has_control_chars(str(file)):
        raise InputError(f"{str(file)!r}: a file path with control characters cannot be recorded in the recipe")
    if models:
        raise InputError("give models on the command line or a deployment file (-f), not both")
    request = load_deployment(file)
    if host is not None or nodes or layout or (api_key_env and not request.api_key_env):
        raise InputError(f"set host / api_key_env / nodes in {file}, where the instances are")
    return request


@app.command()
def check(
    files: Annotated[
        list[Path] | None, typer.Argument(help="compose files or their directories (default: ./compose.yml).")
    ] = None,
    allow_outside: Annotated[
        bool,
        typer.Option(
            "--allow-outside",
            help="Let a recipe read files (--catalog, --hardware, -f) outside the git repository holding the "
            "compose file, or by an absolute path.",
        ),
    ] = False,
) -> None:
    """Exit 1 with a diff when a committed compose.yml no longer matches its recipe and the catalog.

    Re-renders each file from the command in its header, with the current catalog and templates. A
    multi-node output directory (head/, worker-N/) checks every node's file.
    Example: [bold]ascendgen check deploy/*/compose.yml[/] (in CI or a pre-commit hook)
    """
    failed = 0
    for target in [path for given in files or [Path(".")] for path in compose_targets(given)]:
        result = check_compose(target, render_recipe, allow_outside=allow_outside)
        if result.ok:
            termui.success(f"{result.path}: up to date")
            continue
        failed += 1
        termui.error(f"{result.path}: {result.problem}")
        if result.diff:
            termui.out.file.write(result.diff)
    if failed:
        raise AscendgenError(f"{failed} compose file(s) differ from what their recipe gives today")


def render_recipe(args: list[str], base: Path, root: Path | None = None) -> dict[str, str]:
    """What a recorded `ascendgen ...` line writes today, per directory below `base` (for `check`); with a
    `root`, the files it names must lie inside it."""
    if args[:2] == ["ascendgen", "plan"]:
        return render_plan_recipe(_recipe_request(args[2:], base, root), base)
    if args[:2] == ["ascendgen", "gpustack"]:
        return {".": gpustack.render_recipe(args, base, root)}
    raise InputError(f"unknown recipe: {shlex.join(args)}")


def _recipe_request(args: list[str], base: Path, root: Path | None) -> PlanRequest:
    """A recorded `ascendgen plan ...` line as a PlanRequest, file paths taken relative to `base` (the compose
    file's directory). With a `root`, every file it reads (its own, and those a deployment file lists) must lie
    inside `root`."""
    request = request_from_recipe(args, base, lambda flag, path: str(recipe_file(Path(path), base, root, flag)))
    if root is not None and request.deployment_file is not None:  # the files it lists, before they are read
        recorded = args[-1]  # `-f FILE` is the whole of such a recipe
        for listed in (*request.catalogs, *request.hardware):
            confine(Path(listed), root, f"{recorded}: {listed}")
    return request


@app.command()
def models(
    catalogs: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
) -> None:
    """List the models the catalog knows, with the NPUs each needs.

    Example: [bold]ascendgen models --json[/]
    """
    known = load_catalog(catalogs or ())
    if as_json:
        termui.print_json([model_json(m) for m in known.models])
    else:
        termui.out.print(catalog_table(known, load_hardware().server(DEFAULT_SERVER).npu_type))


runtime_commands.register(app)
doctor.register(app)
gpustack.register(app)
diagnose.register(app)
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
