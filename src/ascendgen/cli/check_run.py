"""What `ascendgen check` does with its params: re-render each compose file from the recipe in its header and show
a diff where today's catalog, templates or code write something else. Typer-free: typer's `check` (cli/check.py)
calls run_check with its params, and main() calls it with the params cli/fast_args.py read (its CHECK table),
without importing typer: check is the pre-commit hook and CI's drift check, run on every commit."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ascendgen.cli import termui
from ascendgen.errors import InputError

if TYPE_CHECKING:
    from ascendgen.request import FileLocator, PlanRequest


def run_check(params: Mapping[str, Any]) -> None:
    """Check every compose file `params` name (cli/fast_args.py: CHECK), or ./compose.yml; exit 1 (an
    AscendgenError) when any differs from what its recipe gives today."""
    from ascendgen.errors import AscendgenError
    from ascendgen.generated import check_drift, compose_targets

    files, allow_outside = params["files"], params["allow_outside"]
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
