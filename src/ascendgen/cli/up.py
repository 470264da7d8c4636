"""`ascendgen up`: preflight, pull, `docker compose up -d`, wait until every endpoint answers, and say what
went wrong when one does not; then hold the plan against what vLLM logged. Core modules are imported when
the command runs, so `--help` stays fast."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import DirArg, FileOpt, ServiceOpt

if TYPE_CHECKING:
    from ascendgen.composeconfig import ComposeConfig, Project, ServiceConfig
    from ascendgen.replan import Replan
    from ascendgen.runtime import Failure, UpOutcome

DEFAULT_TIMEOUT_S = 1800  # large models take many minutes to load


def up(
    directory: DirArg = None,
    file: FileOpt = None,
    service: ServiceOpt = None,
    timeout: Annotated[int, typer.Option(help="Seconds to wait until every model answers.")] = DEFAULT_TIMEOUT_S,
    rollback: Annotated[bool, typer.Option(help="On failure, remove the containers this run created.")] = False,
    replan: Annotated[
        bool,
        typer.Option(
            "--replan",
            help="When vLLM's KV cache holds fewer tokens than --max-model-len, rewrite compose.yml with the length "
            "vLLM computed and start once more.",
        ),
    ] = False,
) -> None:
    """Check the host, start the deployment and wait until every endpoint answers.

    Example: [bold]ascendgen up[/] (in the directory with compose.yml), or [bold]ascendgen up deploy/qwen3 --replan[/]
    """
    from ascendgen.cli import project as deployment

    project, model, services = deployment.open_deployment(directory, file, service)
    client = _preflight(project, model, services)
    outcome, elapsed, failures = _start(client, project, model, services, timeout, rollback)
    fix, notes = _kv_fix(client, project, model, failures)
    if failures and fix is not None and replan:
        _report_failures(failures, notes)
        termui.warning(f"replanning with --max-model-len {fix.max_model_len:,}, the length vLLM computed fits")
        _rewrite(fix)
        project, model, services = deployment.open_deployment(directory, file, service)
        outcome, elapsed, failures = _start(client, project, model, services, timeout, rollback)
        fix, notes = _kv_fix(client, project, model, failures)
    elif failures and replan and fix is None and not notes:
        notes = ["--replan sets --max-model-len when vLLM finds its KV cache too small for it; not this failure"]
    if failures:
        _fail(client, project, failures, outcome, fix=fix, notes=notes, rollback=rollback)
    _report_ready(outcome, elapsed, services)
    _compare_with_vllm(client, project, model, services)


def _fail(
    client: Any,
    project: Project,
    failures: list[Failure],
    outcome: UpOutcome,
    *,
    fix: Replan | None,
    notes: list[str],
    rollback: bool,
) -> None:
    """Say what failed and what to do; roll back or leave the containers; raise."""
    from ascendgen.errors import AscendgenError
    from ascendgen.runtime import remove_containers

    _report_failures(failures, notes)
    if fix is not None:
        termui.info(f"to start with the length vLLM computed: {fix.command} && {_up(project)}")
        termui.info(f"or let up do both: {_up(project)} --replan")
    if rollback and outcome.new_container_ids:
        removed = remove_containers(client, outcome.new_container_ids)
        termui.info(f"rolled back: removed {', '.join(removed)}")
    elif outcome.new_container_ids:
        termui.info("containers are left for inspection: `ascendgen logs`, then `ascendgen down`")
    raise AscendgenError(f"{len(failures)} service(s) did not become ready")


def _preflight(project: Project, model: ComposeConfig, services: list[ServiceConfig]) -> Any:
    """Refuse to start on any preflight problem; pull what is missing; warn about what is worth knowing."""
    from ascendgen.dockerengine import connect_docker, unreachable
    from ascendgen.errors import AscendgenError
    from ascendgen.preflight import run_preflight
    from ascendgen.runtime import compose_pull

    client, reason = connect_docker()
    report = run_preflight(model, services, client, project_dir=project.directory)
    problems = ([unreachable(reason)] if reason else []) + report.problems
    if problems:
        for problem in problems:
            termui.error(problem)
        raise AscendgenError(f"preflight found {len(problems)} problem(s); nothing was started")
    for warning in report.warnings:
        termui.warning(warning)
    if report.images_to_pull:
        termui.info(f"pulling {', '.join(report.images_to_pull)}")
        compose_pull(project, [s.name for s in services], report.images_to_pull)
    for svc in services:
        if svc.exposed_without_key:
            termui.warning(
                f"{svc.name} serves on all interfaces without an API key: anyone who reaches this host can use it "
                "(plan with --generate-api-key, or --host 127.0.0.1)"
            )
    return client


def _start(
    client: Any, project: Project, model: ComposeConfig, services: list[ServiceConfig], timeout: int, rollback: bool
) -> tuple[UpOutcome, float, list[Failure]]:
    from ascendgen.runtime import UpFailed, compose_up, remove_containers

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
    return outcome, elapsed, failures


def _wait(
    client: Any, model: ComposeConfig, services: list[ServiceConfig], timeout: int
) -> tuple[float, list[Failure]]:
    from rich.live import Live

    from ascendgen.cli.tables import progress_table
    from ascendgen.runtime import wait_until_ready

    if not termui.err.is_terminal:
        return wait_until_ready(client, model, services, timeout_s=timeout)
    with Live(console=termui.err, transient=True) as live:
        return wait_until_ready(
            client, model, services, timeout_s=timeout, on_progress=lambda p: live.update(progress_table(p))
        )


def _report_failures(failures: list[Failure], notes: list[str]) -> None:
    from rich.markup import escape

    for failure in failures:
        termui.error(f"{failure.service}: {failure.reason}")
        if failure.log_tail:
            termui.err.rule(f"last lines of {failure.service}'s log", style="info")
            termui.err.print(escape(failure.log_tail.rstrip()), markup=True, highlight=False)
            termui.err.rule(style="info")
        if failure.diagnosis:
            termui.error(f"diagnosis: {failure.diagnosis.message}")
    for note in notes:
        termui.info(note)


def _kv_fix(
    client: Any, project: Project, model: ComposeConfig, failures: list[Failure]
) -> tuple[Replan | None, list[str]]:
    """When a service failed because its KV cache is smaller than --max-model-len: record what vLLM measured;
    the plan that starts (None when there is none to offer) and what to tell the user."""
    from ascendgen.errors import AscendgenError
    from ascendgen.replan import kv_shortfall, replan_for

    shortfalls = [s for s in map(kv_shortfall, failures) if s is not None]
    if not shortfalls:
        return None, []
    _record_kv_shortfalls(client, project, model, {s.service: s.fits for s in shortfalls})
    shortfall = shortfalls[0]
    notes = [
        f"{shortfall.service}: vLLM computed that its KV cache holds {shortfall.fits:,} tokens, less than "
        f"--max-model-len {shortfall.max_model_len:,}"
    ]
    try:
        return replan_for(project, shortfall), notes
    except AscendgenError as exc:  # CannotReplan, or a recipe that no longer reads
        return None, [*notes, f"to start it: {exc}"]


def _rewrite(fix: Replan) -> None:
    from ascendgen.errors import AscendgenError

    try:
        written = fix.write()
    except AscendgenError as exc:
        termui.error(str(exc))
        termui.info(f"to write it anyway (local changes belong in compose.override.yml): {fix.command} --force")
        raise AscendgenError("compose.yml was not rewritten; nothing was started again") from None
    for path in written:
        termui.info(f"rewrote {path}")


def _up(project: Project) -> str:
    """The `ascendgen up` that starts this deployment from any directory."""
    if project.file is not None:
        return f"ascendgen up {shlex.quote(str(project.directory))} -f {shlex.quote(str(project.file))}"
    return f"ascendgen up {shlex.quote(str(project.directory))}"


def _report_ready(outcome: UpOutcome, elapsed: float, services: list[ServiceConfig]) -> None:
    from rich.markup import escape

    from ascendgen.composeconfig import served_tasks
    from ascendgen.endpoint import base_url, curl_example

    if not outcome.created:
        termui.success("already up and unchanged: nothing to do")
    tasks = served_tasks(services)
    for svc in services:
        if svc.port is None:
            termui.success(f"{svc.name} running ({elapsed:.0f} s)")
        else:
            served = f" for {svc.served_model_name}" if svc.is_gateway else ""
            termui.success(f"{svc.name} ready in {elapsed:.0f} s at {base_url(svc.port, 'localhost')}/v1{served}")
            name = svc.served_names[0] if svc.served_names else ""
            task = tasks.get(name, "generate") if svc.is_gateway else svc.task
            curl = curl_example(svc.port, name, task=task, with_key=svc.api_key is not None)
            termui.out.print(escape(curl), soft_wrap=True)


def _compare_with_vllm(client: Any, project: Project, model: ComposeConfig, services: list[ServiceConfig]) -> None:
    """The plan's numbers beside vLLM's, a warning when vLLM's KV cache is well below the plan's, and each
    measurement kept for `ascendgen calibrate`."""
    from ascendgen.cli.tables import plan_vs_vllm_table
    from ascendgen.observations import observe
    from ascendgen.runtime import measure_services

    measured = [m for m in measure_services(client, model, services) if m.planned is not None]
    if not any(m.numbers.logged_kv_cache for m in measured):
        return
    termui.out.print(plan_vs_vllm_table(measured))
    observations = []
    for item in measured:
        tokens = item.numbers.kv_cache_tokens
        if item.planned is None or item.state.container_id is None or tokens is None:
            continue
        if tokens < item.planned.kv_cache_tokens * (1 - KV_SHORTFALL_WARNING):
            termui.warning(
                f"{item.service.name}: vLLM's KV cache holds {tokens:,} tokens, "
                f"{100 - tokens * 100 / item.planned.kv_cache_tokens:.0f}% fewer than planned: fewer requests fit at "
                "once; `ascendgen calibrate` compares the planner's reserves with your servers"
            )
        observations.append(
            observe(
                item.service, item.planned, item.numbers, deployment=project.directory,
                container_id=item.state.container_id, started_at=item.state.started_at,
            )
        )  # fmt: skip
    _record(observations)


# A KV cache this much smaller than planned is worth a warning (the planner's reserves are estimates that may be
# off by about a GiB on a real server: README, "What was verified how").
KV_SHORTFALL_WARNING = 0.10


def _record_kv_shortfalls(client: Any, project: Project, model: ComposeConfig, fits: dict[str, int]) -> None:
    """A refused start is a measurement too: vLLM computed how many tokens its KV cache holds."""
    from dataclasses import replace

    from ascendgen.observations import observe
    from ascendgen.runtime import measure_services

    observations = []
    for item in measure_services(client, model, [s for s in model.services if s.name in fits]):
        if item.planned is None or item.state.container_id is None:
            continue
        numbers = replace(item.numbers, kv_cache_tokens=fits[item.service.name])
        observations.append(
            observe(
                item.service, item.planned, numbers, deployment=project.directory,
                container_id=item.state.container_id, started_at=item.state.started_at, outcome="kv_cache_too_small",
            )
        )  # fmt: skip
    _record(observations)


def _record(observations: list[Any]) -> None:
    from ascendgen.observations import observations_path, record

    try:
        for observation in observations:
            record(observation)
    except OSError as exc:
        termui.warning(
            f"cannot keep the measurement in {observations_path()} ({exc.strerror or exc}): `ascendgen calibrate` "
            "will not see it"
        )
