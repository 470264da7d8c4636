"""`ascendgen up`: preflight, pull, `docker compose up -d`, wait until every endpoint answers, and say what
went wrong when one does not. Core modules are imported when the command runs, so `--help` stays fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import DirArg, FileOpt, ServiceOpt

if TYPE_CHECKING:
    from ascendgen.composeconfig import ComposeModel, ServiceConfig
    from ascendgen.runtime import Failure

DEFAULT_TIMEOUT_S = 1800  # large models take many minutes to load


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
    from rich.markup import escape

    from ascendgen.cli import project as deployment
    from ascendgen.endpoint import base_url, curl_example
    from ascendgen.errors import AscendgenError
    from ascendgen.preflight import engine_problem, run_preflight
    from ascendgen.runtime import UpFailed, compose_pull, compose_up, remove_containers

    project, model, services = deployment.open_deployment(directory, file, service)
    client, engine = engine_problem(deployment.docker_client)
    report = run_preflight(model, services, client, project_dir=project.directory)
    problems = ([engine] if engine else []) + report.problems
    if problems:
        for problem in problems:
            termui.error(problem)
        raise AscendgenError(f"preflight found {len(problems)} problem(s); nothing was started")
    if report.images_to_pull:
        termui.info(f"pulling {', '.join(report.images_to_pull)}")
        compose_pull(project, [s.name for s in services], report.images_to_pull)
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
            served = f" for {svc.served_model_name}" if svc.is_gateway else ""
            termui.success(f"{svc.name} ready in {elapsed:.0f} s at {base_url(svc.port, 'localhost')}/v1{served}")
            name = svc.served_names[0] if svc.served_names else ""
            curl = curl_example(svc.port, name, with_key=svc.api_key is not None)
            termui.out.print(escape(curl), soft_wrap=True)


def _wait(client: Any, model: ComposeModel, services: list[ServiceConfig], timeout: int) -> tuple[float, list[Failure]]:
    from rich.live import Live

    from ascendgen.cli.tables import progress_table
    from ascendgen.runtime import wait_until_ready

    if not termui.err.is_terminal:
        return wait_until_ready(client, model, services, timeout_s=timeout)
    with Live(console=termui.err, transient=True) as live:
        return wait_until_ready(
            client, model, services, timeout_s=timeout, on_progress=lambda p: live.update(progress_table(p))
        )


def _report_failures(failures: list[Failure]) -> None:
    from rich.markup import escape

    for failure in failures:
        termui.error(f"{failure.service}: {failure.reason}")
        if failure.log_tail:
            termui.err.rule(f"last lines of {failure.service}'s log", style="info")
            termui.err.print(escape(failure.log_tail.rstrip()), markup=True, highlight=False)
            termui.err.rule(style="info")
        if failure.diagnosis:
            termui.error(f"diagnosis: {failure.diagnosis.message}")
