"""The command line: parse flags, call ascendgen.api, print with termui. Errors are caught once, in
main(), and shown as one line with a named exit code."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from ascendgen import __version__, cli_runtime, termui
from ascendgen.api import PlanRequest, load_catalog_for, make_plan, write_compose
from ascendgen.errors import AscendgenError, ExitCode
from ascendgen.npuset import parse_npus
from ascendgen.planner import DEFAULT_PORT
from ascendgen.views import catalog_table, model_json, plan_table

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
    model: Annotated[str, typer.Argument(help="Catalog name or hub id, e.g. Qwen3-30B-A3B.", show_default=False)],
    npu_type: Annotated[str | None, typer.Option(help="NPU type, e.g. 910B4, 910B3, 310P3.")] = None,
    server: Annotated[str | None, typer.Option(help="Server profile (default atlas-800i-a2: 8 x 910B4).")] = None,
    tp: Annotated[
        int | None, typer.Option("--tp", help="Tensor-parallel size (default: the smallest that fits).")
    ] = None,
    npus: Annotated[str | None, typer.Option(help="NPUs to use: '0-3' or '4,5,6,7' (default: the first TP).")] = None,
    gpu_memory_utilization: Annotated[
        float | None, typer.Option(help="Share of each NPU's memory vLLM may use (default: the image's vLLM default).")
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option(help="Context length to serve (default: the most the KV cache holds).")
    ] = None,
    port: Annotated[int, typer.Option(help="Port the API listens on.")] = DEFAULT_PORT,
    image: Annotated[str | None, typer.Option(help="Image tag (v0.9.2rc1) or full reference.")] = None,
    models_dir: Annotated[str, typer.Option(help="Host directory holding <org>/<model> folders.")] = "/models",
    catalog: CatalogOpt = None,
    hardware: HardwareOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Directory to write compose.yml into.")] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Explain the plan; write nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON for scripts.")] = False,
) -> None:
    """Explain how MODEL runs on this server and write compose.yml.

    Example: [bold]ascendgen plan Qwen3-30B-A3B --npus 4-7 --port 8001[/]
    """
    request = PlanRequest(
        model=model,
        server=server,
        npu_type=npu_type,
        tp=tp,
        npus=parse_npus(npus) if npus is not None else None,
        gpu_memory_utilization=gpu_memory_utilization,
        max_model_len=max_model_len,
        port=port,
        image=image,
        models_dir=models_dir,
        catalogs=tuple(str(p) for p in catalog or ()),
        hardware_files=tuple(str(p) for p in hardware or ()),
    )
    result = make_plan(request)
    written = None if dry_run else write_compose(result, request, out)
    if as_json:
        termui.print_json(result.to_json())
    else:
        termui.out.print(plan_table(result))
    if written is not None:
        termui.success(f"wrote {written}")


@app.command()
def models(
    catalog: CatalogOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the catalog as JSON.")] = False,
) -> None:
    """List the models the catalog knows, with the NPUs each needs.

    Example: [bold]ascendgen models --json[/]
    """
    known = load_catalog_for(PlanRequest(model="", catalogs=tuple(str(p) for p in catalog or ())))
    if as_json:
        termui.print_json([model_json(m) for m in known.models])
    else:
        termui.out.print(catalog_table(known))


cli_runtime.register(app)


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
        ctx = getattr(exc, "ctx", None)
        command = ctx.command_path if ctx is not None else "ascendgen"
        termui.error(f"{exc.format_message()} (see '{command} --help')")
        sys.exit(ExitCode.BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    except Exception as exc:
        if _verbose or os.environ.get("ASCENDGEN_DEBUG"):
            raise
        termui.error(f"unexpected {type(exc).__name__}: {exc} (rerun with --verbose for details)")
        sys.exit(ExitCode.FAILURE)
