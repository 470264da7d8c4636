"""`ascendgen check`: re-render every committed compose file from the recipe in its header and show a diff
where today's catalog, templates or code write something else (for CI and pre-commit)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ascendgen.cli import termui
from ascendgen.errors import InputError

if TYPE_CHECKING:
    from ascendgen.request import FileLocator, PlanRequest


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
    from ascendgen.errors import AscendgenError
    from ascendgen.generated import check_drift, compose_targets

    failed = 0
    for target in [path for given in files or [Path(".")] for path in compose_targets(given)]:
        result = check_drift(target, render_recipe, allow_outside=allow_outside)
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
        from ascendgen.generated import render_plan_recipe

        return render_plan_recipe(_recipe_request(args[2:], base, root), base)
    if args[:2] == ["ascendgen", "gpustack"]:
        from ascendgen.gpustack import render_recipe as render_gpustack_recipe  # only for a gpustack recipe

        return {".": render_gpustack_recipe(args, base, _locator(base, root))}
    raise InputError(f"unknown recipe: {shlex.join(args)}")


def _locator(base: Path, root: Path | None) -> FileLocator:
    """Where a file a recipe names is read: relative to `base`, and inside `root` when there is one."""
    from ascendgen.generated import recipe_file

    return lambda flag, path: str(recipe_file(Path(path), base, root, flag))


def _recipe_request(args: list[str], base: Path, root: Path | None) -> PlanRequest:
    """A recorded `ascendgen plan ...` line as a PlanRequest, file paths taken relative to `base` (the compose
    file's directory). With a `root`, every file it reads (its own, and those a deployment file lists) must lie
    inside `root`."""
    from ascendgen.generated import confine
    from ascendgen.request import request_from_recipe

    request = request_from_recipe(args, base, _locator(base, root))
    if root is not None and request.deployment_file is not None:  # the files it lists, before they are read
        recorded = args[-1]  # `-f FILE` is the whole of such a recipe
        for listed in (*request.catalogs, *request.hardware):
            confine(Path(listed), root, f"{recorded}: {listed}")
    return request
