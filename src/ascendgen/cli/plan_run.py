"""What `ascendgen plan` does with its params: the flags become a PlanRequest (ascendgen.request), the core plans
it, the tables show it. Typer-free: typer's `plan` (cli/plan.py) calls run_plan with its params, and main() calls
it with the params cli/fast_args.py read, without importing typer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ascendgen.cli import termui
from ascendgen.cli.tables import instances_table, plan_table
from ascendgen.envfile import ENV_FILE
from ascendgen.errors import InputError
from ascendgen.plans import make_plans
from ascendgen.request import PlanRequest, request_from_flags


def run_plan(params: Mapping[str, Any]) -> None:
    """Plan, print and (unless --dry-run) write compose.yml: `params` are the command's, as typer gives them
    (cli/fast_args.py: PLAN_OPTIONS)."""
    api_key, generate_api_key = params["api_key"], params["generate_api_key"]
    models, file, as_json = params["models"], params["file"], params["as_json"]
    secrets = _api_key_secrets(api_key, generate_api_key)
    require_key = params["api_key_env"] or api_key is not None or generate_api_key
    if file is not None:
        request = _deployment_request(
            file,
            models,
            host=params["host"],
            nodes=params["nodes"],
            layout=params["layout"],
            api_key_env=require_key,
            gateway=params["gateway"],
        )
    else:
        request = request_from_flags(models or [], {**params, "api_key_env": require_key})
    plans = make_plans(request)
    if secrets is None and request.api_key_env:
        secrets = {}  # the key is in .env already: keep it 0600 and git-ignored
    written = []
    if not params["dry_run"]:
        from ascendgen.generated import write_compose

        written = write_compose(plans, request, params["out"], force=params["force"], secrets=secrets)
    if as_json:
        termui.print_json(plans[0].to_json() if len(plans) == 1 else [p.to_json() for p in plans])
    else:
        for result in plans:
            termui.out.print(plan_table(result))
        if len(plans) > 1:
            termui.out.print(instances_table(plans))
    for path in written:
        termui.success(f"wrote {path}" + (f" and the API key to {path.parent / ENV_FILE}" if secrets else ""))
    if written and request.gateway:
        from ascendgen.gateway import GATEWAY_CONFIG

        termui.success(f"wrote {written[0].parent / GATEWAY_CONFIG}, the gateway's config")
    if request.gateway and not as_json:
        termui.info(
            f"one endpoint on port {request.first_port}: a LiteLLM gateway routes each request by its model name "
            f"({', '.join(p.model.served_model_name for p in plans)}) and requires the API key"
        )


def _api_key_secrets(api_key: str | None, generate: bool) -> dict[str, str] | None:
    """The API key plan sets in .env: the one given (checked before anything is planned) or a new one."""
    from ascendgen.envfile import generate_secret
    from ascendgen.planner import API_KEY_ENV

    if api_key is not None and generate:
        raise InputError("--api-key and --generate-api-key: give one of them")
    if api_key is not None:
        from ascendgen.endpoint import check_api_key  # with urllib's HTTP client: only when a key is given

        return {API_KEY_ENV: check_api_key(api_key)}
    return {API_KEY_ENV: generate_secret()} if generate else None


def _deployment_request(
    file: Path,
    models: Sequence[str] | None,
    *,
    host: str | None,
    nodes: Sequence[str] | None,
    layout: str | None,
    api_key_env: bool,
    gateway: bool = False,
) -> PlanRequest:
    from ascendgen.deployfile import load_deployment
    from ascendgen.safetext import has_control_chars

    if has_control_chars(str(file)):
        raise InputError(f"{str(file)!r}: a file path with control characters cannot be recorded in the recipe")
    if models:
        raise InputError("give models on the command line or a deployment file (-f), not both")
    request = load_deployment(file)
    if (
        host is not None
        or nodes
        or layout
        or (api_key_env and not request.api_key_env)
        or (gateway and not request.gateway)
    ):
        raise InputError(f"set host / api_key_env / nodes / gateway in {file}, where the instances are")
    return request
