"""`ascendgen plan`: explain how models run on this server and write compose.yml. The flags become a
PlanRequest (ascendgen.request), the core plans it, the tables show it. Core modules are imported when the
command runs, so `--help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ascendgen.cli import termui
from ascendgen.cli.options import CatalogOpt, HardwareOpt
from ascendgen.errors import InputError

if TYPE_CHECKING:
    from ascendgen.request import PlanRequest


def plan(
    ctx: typer.Context,
    models: Annotated[
        list[str] | None,
        typer.Argument(
            help="Catalog names, hub ids or model directories inside --models-dir, e.g. Qwen3-30B-A3B or "
            "/models/me/My-Model; several share the server.",
            show_default=False,
        ),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="A deployment file (ascendgen.yaml) listing instances.")
    ] = None,
    npu_type: Annotated[str | None, typer.Option(help="NPU type, e.g. 910B4, 910B3, 310P3.")] = None,
    server: Annotated[str | None, typer.Option(help="Server profile (default atlas-800i-a2: 8 x 910B4).")] = None,
    tp: Annotated[
        int | None, typer.Option("--tp", help="Tensor-parallel size (default: the smallest that fits).")
    ] = None,
    dp: Annotated[
        int | None,
        typer.Option(
            "--dp", help="Data-parallel ranks: N engines of TP NPUs each behind one port, vLLM balancing requests."
        ),
    ] = None,
    fill: Annotated[
        bool, typer.Option("--fill", help="As many data-parallel ranks as fit the NPUs (--npus, else the server).")
    ] = False,
    npus: Annotated[str | None, typer.Option(help="NPUs to use: '0-3' or '4,5,6,7' (default: packed).")] = None,
    gpu_memory_utilization: Annotated[
        float | None, typer.Option(help="Share of each NPU's memory vLLM may use (default: the image's vLLM default).")
    ] = None,
    max_model_len: Annotated[
        int | None, typer.Option(help="Context length to serve (default: the most the KV cache holds).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="Port the API listens on; with several models, the first port.")
    ] = None,
    served_name: Annotated[str | None, typer.Option(help="Name clients ask for (default: the hub id).")] = None,
    image: Annotated[str | None, typer.Option(help="Image tag (v0.9.2rc1) or full reference.")] = None,
    models_dir: Annotated[str, typer.Option(help="Host directory holding <org>/<model> folders.")] = "/models",
    host: Annotated[
        str | None, typer.Option(help="Address the API binds, e.g. 127.0.0.1 (default: all interfaces).")
    ] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Require this API key; kept in .env (0600, git-ignored), not in compose.yml.")
    ] = None,
    generate_api_key: Annotated[
        bool, typer.Option("--generate-api-key", help="Like --api-key, with a random key.")
    ] = False,
    api_key_env: Annotated[
        bool,
        typer.Option(
            "--api-key-env", help="Require the API key already in .env as VLLM_API_KEY (what the recipe records)."
        ),
    ] = False,
    nodes: Annotated[
        list[str] | None,
        typer.Option(
            "--node",
            help="A server of a multi-node plan, ADDRESS:INTERFACE (repeat; the first is the Ray head).",
            metavar="ADDR:IF",
        ),
    ] = None,
    layout: Annotated[
        str | None,
        typer.Option(
            help="With --node: tp (TP over all NPUs), tp-pp (TP x PP), ep (TP + EP) with Ray; dp, dp-ep (vLLM's "
            "multi-node data parallel, no Ray)."
        ),
    ] = None,
    gateway: Annotated[
        bool,
        typer.Option(
            "--gateway",
            help="One endpoint for every model: a LiteLLM gateway on --port routes by model name and checks the API "
            "key; the models listen on 127.0.0.1 on the ports after it.",
        ),
    ] = False,
    catalogs: CatalogOpt = None,
    hardware: HardwareOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Directory to write compose.yml into.")] = Path("."),
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Explain the plan; write nothing.")] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite a compose.yml edited by hand.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON for scripts.")] = False,
) -> None:
    """Explain how MODEL runs on this server and write compose.yml.

    Example: [bold]ascendgen plan Qwen3-30B-A3B --npus 4-7 --port 8001[/];
    several: [bold]ascendgen plan Qwen3-30B-A3B Qwen2.5-Coder-32B-Instruct --port 8001[/];
    one model four times: [bold]ascendgen plan Qwen3-8B --dp 4[/];
    one endpoint: [bold]ascendgen plan Qwen3-8B Qwen2.5-7B-Instruct --gateway --generate-api-key[/]
    """
    from ascendgen.cli.tables import instances_table, plan_table
    from ascendgen.envfile import ENV_FILE
    from ascendgen.plans import make_plans
    from ascendgen.request import request_from_flags

    secrets = _api_key_secrets(api_key, generate_api_key)
    require_key = api_key_env or api_key is not None or generate_api_key
    if file is not None:
        request = _deployment_request(
            file, models, host=host, nodes=nodes, layout=layout, api_key_env=require_key, gateway=gateway
        )
    else:
        request = request_from_flags(models or [], {**ctx.params, "api_key_env": require_key})
    plans = make_plans(request)
    if secrets is None and request.api_key_env:
        secrets = {}  # the key is in .env already: keep it 0600 and git-ignored
    written = []
    if not dry_run:
        from ascendgen.generated import write_compose

        written = write_compose(plans, request, out, force=force, secrets=secrets)
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
    models: list[str] | None,
    *,
    host: str | None,
    nodes: list[str] | None,
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
