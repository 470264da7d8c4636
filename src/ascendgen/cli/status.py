"""`ascendgen status`: each service's container state, health, port, NPUs, uptime and readiness."""

from __future__ import annotations

from typing import Annotated

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import DirArg, FileOpt


def status(
    directory: DirArg = None,
    file: FileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """What runs: each service's container state, health, port, NPUs, uptime and readiness.

    Example: [bold]ascendgen status --json[/]
    """
    from ascendgen.cli import project
    from ascendgen.cli.tables import status_rows, status_table
    from ascendgen.runtime import container_states, is_ready

    _, config, services = project.open_deployment(directory, file, None)
    states = container_states(project.engine(), config, services)
    ready = {s.name: is_ready(s, states[s.name]) for s in services}
    if as_json:
        termui.print_json(status_rows(services, states, ready))
    else:
        termui.out.print(status_table(services, states, ready))
