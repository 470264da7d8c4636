"""`ascendgen smoke`: one request per endpoint (a chat, an embedding or a ranking), with latency and tokens/s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import DirArg, FileOpt, ServiceOpt

if TYPE_CHECKING:
    from ascendgen.catalog import Task
    from ascendgen.composeconfig import ServiceConfig


def smoke(
    directory: DirArg = None,
    file: FileOpt = None,
    service: ServiceOpt = None,
    prompt: Annotated[
        str, typer.Option(help="What to ask each model.")
    ] = "Give me a short introduction to large language models.",
    max_tokens: Annotated[int, typer.Option(help="Tokens to generate.")] = 64,
) -> None:
    """Send one request to every endpoint; show latency and tokens/s.

    A chat model gets a chat completion, an embedding model /v1/embeddings, a reranker /v1/rerank.

    Example: [bold]ascendgen smoke[/]
    """
    from ascendgen.cli import project
    from ascendgen.cli.tables import smoke_table
    from ascendgen.endpoint import ask
    from ascendgen.errors import AscendgenError

    _, _, services = project.open_deployment(directory, file, service)
    results: list[tuple[ServiceConfig, str, Any]] = []
    failed = 0
    for svc, name, task in _endpoints(services):
        try:
            answer = ask(svc.port or 0, name, task, prompt, max_tokens=max_tokens, api_key=svc.api_key)
            results.append((svc, name, answer))
        except (OSError, ValueError) as exc:
            failed += 1
            results.append((svc, name, f"{type(exc).__name__}: {exc}"))
    termui.out.print(smoke_table(results))
    if failed:
        raise AscendgenError(f"{failed} endpoint(s) did not answer (see `ascendgen status` and `ascendgen logs`)")


def _endpoints(services: list[ServiceConfig]) -> list[tuple[ServiceConfig, str, Task]]:
    """(service, model name, task) to ask: each model a gateway routes, through the gateway's port, and each
    instance not behind a gateway among `services` on its own port."""
    from ascendgen.composeconfig import served_tasks

    tasks = served_tasks(services)
    gateways = [svc for svc in services if svc.is_gateway and svc.port is not None]
    endpoints: list[tuple[ServiceConfig, str, Task]] = [
        (svc, name, tasks.get(name, "generate")) for svc in gateways for name in svc.served_names
    ]
    routed = {name for _, name, _ in endpoints}
    for svc in services:
        if svc.port is None or svc.is_gateway or svc.served_model_name in routed:
            continue
        endpoints.append((svc, svc.served_model_name or "", svc.task))
    return endpoints
