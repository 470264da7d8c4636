"""`up`, `status`, `smoke`, `logs`, `down`: the commands that touch Docker. Each parses its flags, calls
preflight / runtime / endpoint, and renders what they return."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.markup import escape

from ascendgen.cli import termui
from ascendgen.cli.tables import progress_table, smoke_table, status_rows, status_table
from ascendgen.composeconfig import ComposeModel, Project, ServiceConfig, load_compose_model, locate_project
from ascendgen.endpoint import base_url, chat, curl_example
from ascendgen.errors import AscendgenError, InputError
from ascendgen.preflight import engine_problem, run_preflight
from ascendgen.runtime import (
    Failure,
    UpFailed,
    compose_up,
    container_states,
    is_ready,
    remove_containers,
    wait_until_ready,
)

DEFAULT_TIMEOUT_S = 1800  # large models take many minutes to load

DirArg = Annotated[
    Path | None, typer.Argument(help="Directory holding compose.yml (default: here).", show_default=False)
]
FileOpt = Annotated[Path | None, typer.Option("--file", "-f", help="A compose file elsewhere or by another name.")]
ServiceOpt = Annotated[list[str] | None, typer.Option("--service", "-s", help="Only this service (repeatable).")]


def _docker_client() -> Any:
    import docker  # type: ignore[import-untyped]

    return docker.from_env(timeout=30)


def _open(
    directory: Path | None, file: Path | None, only: list[str] | None
) -> tuple[Project, ComposeModel, list[ServiceConfig]]:
    project = locate_project(directory, file)
    model = load_compose_model(project)
    services = [model.service(name) for name in only] if only else list(model.services)
    if not services:
        raise AscendgenError(f"no services in {project.directory}")
    return project, model, services


def _engine() -> Any:
    client, problem = engine_problem(_docker_client)
    if problem:
        raise AscendgenError(problem)
    return client


def up(
    directory: DirArg = None,
    file: FileOpt = None,
    service: ServiceOpt = None,
    timeout: Annotated[int, typer.Option(help="Seconds to wait until every model answers.")] = DEFAULT_TIMEOUT_S,
    rollback: Annotated[bool, typer.Option(help="On failure, remove the containers this run created.")] = False,
) -> None:
    """Check the host, start the deployment and wait until every endpoint answers.

    Example: [bold]ascendgen up[/] (in the directory with compose.yml), or [bold]ascendgen up deploy/qwen3[/]
    """
    project, model, services = _open(directory, file, service)
    client, engine = engine_problem(_docker_client)
    report = run_preflight(model, services, client, project_dir=project.directory)
    problems = ([engine] if engine else []) + report.problems
    if problems:
        for problem in problems:
            termui.error(problem)
        raise AscendgenError(f"preflight found {len(problems)} problem(s); nothing was started")
    if report.images_to_pull:
        termui.info(f"pulling {', '.join(report.images_to_pull)}")
        pulled = subprocess.run([*project.compose_args(), "pull", *[s.name for s in services]], check=False)
        if pulled.returncode != 0:
            raise AscendgenError(f"docker compose pull failed for {', '.join(report.images_to_pull)}")
    for svc in services:
        if svc.exposed_without_key:
            termui.warning(
                f"{svc.name} serves on all interfaces without an API key: anyone who reaches this host can use it "
                "(plan with --generate-api-key, or --host 127.0.0.1)"
            )
    try:
        outcome = compose_up(client, project, model, services)
    except UpFailed as exc:
        if rollback:
            remove_containers(client, exc.new_container_ids)
        raise
    if outcome.created:
        termui.info(f"started: {', '.join(outcome.created)}")
    if outcome.unchanged:
        termui.info(f"unchanged, already running: {', '.join(outcome.unchanged)}")
    elapsed, failures = _wait(client, model, services, timeout)
    if failures:
        _report_failures(failures)
        if rollback and outcome.new_container_ids:
            removed = remove_containers(client, outcome.new_container_ids)
            termui.info(f"rolled back: removed {', '.join(removed)}")
        elif outcome.new_container_ids:
            termui.info("containers are left for inspection: `ascendgen logs`, then `ascendgen down`")
        raise AscendgenError(f"{len(failures)} service(s) did not become ready")
    if not outcome.created:
        termui.success("already up and unchanged: nothing to do")
    for svc in services:
        if svc.port is None:
            termui.success(f"{svc.name} running ({elapsed:.0f} s)")
        else:
            termui.success(f"{svc.name} ready in {elapsed:.0f} s at {base_url(svc.port, 'localhost')}/v1")
            curl = curl_example(svc.port, svc.served_model_name or "", with_key=svc.api_key is not None)
            termui.out.print(escape(curl), soft_wrap=True)


def _wait(client: Any, model: ComposeModel, services: list[ServiceConfig], timeout: int) -> tuple[float, list[Failure]]:
    if not termui.err.is_terminal:
        return wait_until_ready(client, model, services, timeout_s=timeout)
    with Live(console=termui.err, transient=True) as live:
        return wait_until_ready(
            client, model, services, timeout_s=timeout, on_progress=lambda p: live.update(progress_table(p))
        )


def _report_failures(failures: list[Failure]) -> None:
    for failure in failures:
        termui.error(f"{failure.service}: {failure.reason}")
        if failure.log_tail:
            termui.err.rule(f"last lines of {failure.service}'s log", style="info")
            termui.err.print(escape(failure.log_tail.rstrip()), markup=True, highlight=False)
            termui.err.rule(style="info")
        if failure.diagnosis:
            termui.error(f"diagnosis: {failure.diagnosis.message}")


def status(
    directory: DirArg = None,
    file: FileOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the status as JSON.")] = False,
) -> None:
    """What runs: each service's container state, health, port, NPUs, uptime and readiness.

    Example: [bold]ascendgen status --json[/]
    """
    _, model, services = _open(directory, file, None)
    states = container_states(_engine(), model, services)
    ready = {s.name: is_ready(s, states[s.name]) for s in services}
    if as_json:
        termui.print_json(status_rows(services, states, ready))
    else:
        termui.out.print(status_table(services, states, ready))


def smoke(
    directory: DirArg = None,
    file: FileOpt = None,
    service: ServiceOpt = None,
    prompt: Annotated[
        str, typer.Option(help="What to ask each model.")
    ] = "Give me a short introduction to large language models.",
    max_tokens: Annotated[int, typer.Option(help="Tokens to generate.")] = 64,
) -> None:
    """Send one chat completion to every endpoint; show latency and tokens/s.

    Example: [bold]ascendgen smoke[/]
    """
    _, _, services = _open(directory, file, service)
    results: list[tuple[ServiceConfig, Any]] = []
    failed = 0
    for svc in services:
        if svc.port is None:
            continue
        try:
            answer = chat(svc.port, svc.served_model_name or "", prompt, max_tokens=max_tokens, api_key=svc.api_key)
            results.append((svc, answer))
        except (OSError, ValueError) as exc:
            failed += 1
            results.append((svc, f"{type(exc).__name__}: {exc}"))
    termui.out.print(smoke_table(results))
    if failed:
        raise AscendgenError(f"{failed} endpoint(s) did not answer (see `ascendgen status` and `ascendgen logs`)")


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
    if directory is not None and not directory.exists():
        raise InputError(f"{directory}: no such directory (name services with --service NAME; the argument is DIR)")
    project, _, services = _open(directory, file, service)
    args = [*project.compose_args(), "logs", "--tail", tail]
    if follow:
        args.append("--follow")
    code = subprocess.call([*args, *(s.name for s in services)] if service else args, cwd=project.directory)
    if code:
        sys.exit(code)


def down(directory: DirArg = None, file: FileOpt = None) -> None:
    """Stop and remove the deployment's containers (docker compose down).

    Example: [bold]ascendgen down[/]
    """
    project, _, _ = _open(directory, file, None)
    code = subprocess.call([*project.compose_args(), "down"], cwd=project.directory)
    if code:
        raise AscendgenError(f"docker compose down failed (exit {code})")
    termui.success(f"stopped {project.directory}")


def register(app: typer.Typer) -> None:
    for command in (up, status, smoke, logs, down):
        app.command()(command)
