"""`ascendgen check`: re-render every committed compose file from the recipe in its header and show a diff
where today's catalog, templates or code write something else (for CI and pre-commit). This is the command as
typer declares it (its arguments and help); what it does is cli/check_run.py's run_check, which main() also calls
without typer when cli/fast_args.py can read the arguments (tests/cli/test_fast_args.py holds that reader equal
to typer)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def check(
    ctx: typer.Context,
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
    from ascendgen.cli.check_run import run_check

    run_check(ctx.params)
