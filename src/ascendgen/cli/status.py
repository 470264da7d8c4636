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
    """What runs: each service's state, health, port, NPUs, uptime, readiness, and vLLM's KV cache vs the plan.

    Example: [bold]ascendgen status --json[/]
    """
    from ascendgen.cli import project
    from ascendgen.cli.tables import status_rows, status_table
    from ascendgen.runtime import container_states, is_ready, measure_services

    _, model, services = project.open_deployment(directory, file, None)
    client = project.engine()
    states = container_states(client, model, services)
    ready = {s.name: is_ready(s, states[s.name]) for s in services}
    running = [s for s in services if states[s.name].status == "running"]
    measured = {m.service.name: m for m in measure_services(client, model, running)}
    if as_json:
        termui.print_json(status_rows(services, states, ready, measured))
    else:
        termui.out.print(status_table(services, states, ready, measured))
