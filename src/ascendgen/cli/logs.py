"""`ascendgen logs`: the containers' logs, through `docker compose logs`."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from ascendgen.cli.options import DirArg, FileOpt, ServiceOpt


def logs(
    directory: DirArg = None,
    file: FileOpt = None,
    service: ServiceOpt = None,
    follow: Annotated[bool, typer.Option("--follow", "-F", help="Keep printing new lines.")] = False,
    tail: Annotated[str, typer.Option(help="Lines from the end of each log ('all' for everything).")] = "200",
) -> None:
    """Show the containers' logs (docker compose logs).

    Example: [bold]ascendgen logs --service vllm-qwen3-8b --follow[/] (-f is --file, as for every command)
    """
    from ascendgen.cli import project
    from ascendgen.errors import InputError
    from ascendgen.runtime import compose_logs

    if directory is not None and not directory.exists():
        raise InputError(f"{directory}: no such directory (name services with --service NAME; the argument is DIR)")
    deployment, _, services = project.open_deployment(directory, file, service)
    code = compose_logs(deployment, [s.name for s in services] if service else [], tail=tail, follow=follow)
    if code:
        sys.exit(code)
