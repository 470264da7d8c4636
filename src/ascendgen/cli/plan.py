"""`ascendgen plan`: explain how models run on this server and write compose.yml. This is the command as typer
declares it (its options and help); what it does is cli/plan_run.py's run_plan, which main() also calls without
typer when cli/fast_args.py can read the arguments (tests/cli/test_fast_args.py holds that reader equal to typer).
Core modules are imported when the command runs, so `--help` stays fast."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ascendgen.cli.options import CatalogOpt, HardwareOpt


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
    from ascendgen.cli.plan_run import run_plan

    run_plan(ctx.params)
