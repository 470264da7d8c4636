"""How results look: rich tables for people, plain dicts for --json. Pure: build renderables, print nothing."""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING, Any

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from ascendgen.npuset import format_npus
from ascendgen.planner import BLOCK_TOKENS, Plan, expert_weights_gib, kv_cache_layers, kv_dtype_bytes, weights_gib

if TYPE_CHECKING:  # types only: `plan` draws its tables without importing the runtime, compose or HTTP modules
    from ascendgen.catalog import Catalog, ModelSpec
    from ascendgen.composeconfig import ServiceConfig
    from ascendgen.endpoint import Answer
    from ascendgen.fit import ModelFit
    from ascendgen.hardware import ServerProfile
    from ascendgen.runtime import ContainerState, Measured, Progress


def _gib(value: float) -> str:
    return f"{value:.1f} GiB"


class FitWidth:
    """The first of several layouts, widest first, that fits the terminal; the last one otherwise. An
    80-column terminal (SSH, CI logs) gets a narrower table rather than columns cut to '…'."""

    def __init__(self, *layouts: Table) -> None:
        self.layouts = layouts

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=1_000_000)  # the layout's natural width, not clamped to the terminal
        for layout in self.layouts[:-1]:
            if Measurement.get(console, unbounded, layout).maximum <= options.max_width:
                yield layout
                return
        yield self.layouts[-1]


def describe_model(model: ModelSpec) -> str:
    size = f"{model.params_b:g}B"
    if model.kind == "moe":
        size = f"MoE {model.params_b:g}B total / {model.active_params_b:g}B active"
    quant = f", {model.quantization.upper()}" if model.quantization else ""
    attention = "MLA" if model.attention == "mla" else "GQA"
    vision = ", vision" if model.vision else ""
    return (
        f"{size}{quant}{vision}, {model.num_layers} layers, {model.num_attention_heads} heads / "
        f"{model.num_key_value_heads} KV heads ({attention}), context {model.max_position_embeddings}"
    )


def kv_formula(plan: Plan) -> str:
    model, tp = plan.model, plan.tensor_parallel_size
    layers, dtype_bytes = kv_cache_layers(model), kv_dtype_bytes(model)
    if model.mla is not None:
        return (
            f"{layers} layers x ({model.mla.kv_lora_rank} latent + {model.mla.qk_rope_head_dim} rope) "
            f"x {dtype_bytes} B (MLA, not split by TP)"
        )
    per_rank = max(1, model.num_key_value_heads // tp)
    split = f"{model.num_key_value_heads} KV heads / TP {tp}" if model.num_key_value_heads >= tp else "replicated"
    return f"2 x {layers} layers x {per_rank} KV head ({split}) x {model.head_dim} x {dtype_bytes} B"


def _weights_split(plan: Plan) -> str:
    """How the weights are split: by TP (x PP); a MoE model's experts over all DP x TP NPUs of a data-parallel plan."""
    model, tp, dp = plan.model, plan.tensor_parallel_size, plan.data_parallel_size
    if dp == 1 or model.kind != "moe":
        return f"{_gib(weights_gib(model))} / {tp}"
    experts = expert_weights_gib(model)
    return f"{_gib(weights_gib(model) - experts)} / {tp} + {_gib(experts)} of experts / {tp * dp}"


def plan_table(plan: Plan) -> Table:
    m = plan.memory
    table = Table(title=f"ascendgen plan: {plan.model.name}", show_header=False, title_justify="left", box=None)
    table.add_column(style="key", no_wrap=True)
    table.add_column(overflow="fold")
    model = plan.model
    table.add_row("Model", f"{model.hub_id}: {describe_model(model)}")
    table.add_row(
        "NPU",
        f"{plan.npu_type.name}, {plan.npu_type.memory_gib:g} GiB HBM, {plan.npu_type.visible_gib:g} GiB visible to "
        f"torch_npu ({plan.server.name}, {plan.server.npu_count} NPUs)",
    )
    table.add_row("Tensor parallel", f"{plan.tensor_parallel_size}: {plan.tp_reason}")
    if plan.data_parallel_size > 1 or plan.dp_reason:
        table.add_row("Data parallel", f"{plan.data_parallel_size}: {plan.dp_reason}")
    table.add_row("NPUs", ", ".join(map(str, plan.npus)))
    table.add_row("Weights per NPU", f"{_gib(m.weights_gib)} ({_weights_split(plan)})")
    # one term group per line, so that an 80-column terminal never wraps a number away from its unit
    budget = (
        f"{m.visible_gib:g} GiB x {plan.gpu_memory_utilization:g} = {_gib(m.usable_gib)} usable\n"
        f"- {_gib(m.weights_gib)} weights - {_gib(m.activation_gib)} activation - {_gib(m.runtime_gib)} runtime\n"
    )
    if m.kv_budget_factor != 1:
        budget += f"x {m.kv_budget_factor:g} ({plan.platform.name} KV budget) "
    table.add_row("Memory per NPU", f"{budget}= {_gib(m.kv_cache_gib)} KV cache")
    table.add_row("KV per token", f"{plan.kv_bytes_per_token:,} B per NPU\n= {kv_formula(plan)}")
    table.add_row(
        "KV cache",
        f"{_gib(m.kv_cache_gib)} per NPU = {plan.kv_cache_tokens:,} tokens "
        f"({plan.kv_cache_tokens // BLOCK_TOKENS:,} blocks of {BLOCK_TOKENS})",
    )
    table.add_row("max-model-len", f"{plan.max_model_len:,}: {plan.max_model_len_reason}")
    table.add_row("Concurrency", f"{plan.max_concurrency:g} requests of {plan.max_model_len:,} tokens at once")
    table.add_row("Port", str(plan.port))
    table.add_row("Image", f"{plan.image.reference} (vLLM {plan.image.spec.vllm})")
    table.add_row("Serve", Text("vllm serve " + shlex.join(plan.serve_args)))
    warnings = Text("\n".join(plan.warnings) or "none", style="warning" if plan.warnings else "success")
    table.add_row("Warnings", warnings)
    return table


def instances_table(plans: list[Plan]) -> FitWidth:
    """The instances side by side; below the full width without the served names (each plan's Serve line
    above has them)."""
    layouts = []
    for served in (True, False):
        table = Table(title="instances on this server", title_justify="left")
        columns = ("Model", "NPUs", "TP", "Port", "max-model-len") + (("Served name",) if served else ())
        for column in columns:
            table.add_column(column, no_wrap=True)
        for plan in plans:
            cells = [plan.model.name, format_npus(plan.npus), str(plan.tensor_parallel_size), str(plan.port)]
            cells.append(f"{plan.max_model_len:,}")
            table.add_row(*cells, *([plan.model.served_model_name] if served else []))
        layouts.append(table)
    return FitWidth(*layouts)


# Columns of `ascendgen models`, least important last: narrower terminals drop from the end of this list.
_CATALOG_EXTRA = ("Hub id", "Kind", "NPUs")


def catalog_table(catalog: Catalog, default_npu: str) -> FitWidth:
    """Every model with its size, heads / KV heads, context and the NPUs it needs. Full width: also the hub
    id, the kind and the recorded count per NPU type; narrower: only the count on `default_npu` (the default
    server's NPU type), under the column named after it."""
    layouts = []
    # the narrowest shows the total parameters only (the name says W8A8/W4A8; --json has the rest)
    for extra, short in ((_CATALOG_EXTRA, False), (_CATALOG_EXTRA[1:], False), ((), False), ((), True)):
        title = "ascendgen models" + ("" if "NPUs" in extra else f" ({default_npu}: the NPUs each needs)")
        table = Table(title=title, title_justify="left")
        table.add_column("Name", style="key", no_wrap=True)
        if "Hub id" in extra:
            table.add_column("Hub id", no_wrap=True)
        if "Kind" in extra:
            table.add_column("Kind", no_wrap=True)
        table.add_column("Params", justify="right", no_wrap=True)
        table.add_column("Heads/KV", justify="right", no_wrap=True)
        table.add_column("Context", justify="right", no_wrap=True)
        table.add_column("NPUs" if "NPUs" in extra else default_npu, justify="left" if extra else "right")
        for model in catalog.models:
            row = [model.name]
            if "Hub id" in extra:
                row.append(model.hub_id)
            if "Kind" in extra:
                kind = ("MoE" if model.kind == "moe" else "dense") + ("+VL" if model.vision else "")
                row.append(kind + (" MLA" if model.attention == "mla" else ""))
            params = f"{model.params_b:g}B"
            if model.active_params_b and not short:
                params += f"/{model.active_params_b:g}B"
            if model.quantization and not short:
                params += f" {model.quantization.upper()}"
            heads = f"{model.num_attention_heads}/{model.num_key_value_heads}"
            row += [params, heads, str(model.max_position_embeddings)]
            if "NPUs" in extra:
                row.append(", ".join(f"{count} x {npu}" for npu, count in sorted(model.npus.items())))
            else:
                row.append(str(model.npus.get(default_npu, "-")))
            table.add_row(*row)
        layouts.append(table)
    return FitWidth(*layouts)


def fit_table(fits: list[ModelFit], server: ServerProfile) -> FitWidth:
    """`models --fit`: each model's verdict on `server`, its NPUs, max-model-len and full-length requests at once.
    Full width: the verdict in words; narrower: yes / shorter / no, and the NPUs a model that does not fit needs."""
    title = f"what fits on {server.name} ({server.npu_count} x {server.npu_type})"
    caption = "Requests: requests of max-model-len tokens whose KV cache fits at once (vLLM's 'Maximum concurrency')"
    layouts = []
    for wide in (True, False):
        table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
        table.add_column("Model", style="key", no_wrap=True)
        table.add_column("Fits", no_wrap=True)
        table.add_column("NPUs", justify="right", no_wrap=True)
        table.add_column("max-model-len" if wide else "Max len", justify="right", no_wrap=True)
        table.add_column("Requests", justify="right", no_wrap=True)
        for fit in fits:
            style = {"yes": "success", "shorter-context": "warning", "no": "error"}[fit.fits]
            verdict = fit.summary if wide else {"yes": "yes", "shorter-context": "shorter", "no": "no"}[fit.fits]
            npus = str(fit.npus) if fit.fits != "no" else ("-" if wide or fit.needs is None else f"needs {fit.needs}")
            table.add_row(
                fit.model.name,
                Text(verdict, style=style),
                npus,
                "-" if fit.max_model_len is None else f"{fit.max_model_len:,}",
                "-" if fit.max_concurrency is None else f"{fit.max_concurrency:g}",
            )
        layouts.append(table)
    return FitWidth(*layouts)


def model_json(model: ModelSpec) -> dict[str, Any]:
    from ascendgen.records import dump

    data = dump(model, exclude_none=True, json=True)
    data["served_name"] = model.served_model_name
    return data


# ------------------------------------------------------------------------------------------- runtime views


def _uptime(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def progress_table(progress: Progress) -> Table:
    table = Table(title=f"waiting for the models ({progress.elapsed_s:.0f} s)", title_justify="left", box=None)
    for column in ("Service", "Container", "Health", "Restarts", "Ready"):
        table.add_column(column)
    for name, state in progress.states.items():
        table.add_row(
            name,
            state.status,
            state.health or "-",
            str(state.restart_count),
            "[success]yes[/]" if progress.ready.get(name) else "loading...",
        )
    return table


def status_rows(
    services: list[ServiceConfig],
    states: dict[str, ContainerState],
    ready: dict[str, bool],
    measured: dict[str, Measured] | None = None,
) -> list[dict[str, Any]]:
    """One row per service; `planned_kv_cache_tokens` from the plan's label (of the running container, else of
    compose.yml; None for a file without it), `measured_kv_cache_tokens` from vLLM's startup log (None until vLLM
    has logged it)."""
    from ascendgen.observations import planned_memory

    rows = []
    for service in services:
        state = states[service.name]
        seen = (measured or {}).get(service.name)
        planned = seen.planned if seen and seen.planned else planned_memory(service.labels)
        uptime = state.uptime_s
        rows.append(
            {
                "service": service.name,
                "container": state.container_name,
                "state": state.status,
                "health": state.health,
                "restarts": state.restart_count,
                "port": service.port,
                "npus": list(service.npus),
                "model": service.served_model_name,
                "uptime_s": None if uptime is None else round(uptime),
                "ready": ready.get(service.name, False),
                "planned_kv_cache_tokens": planned.kv_cache_tokens if planned else None,
                "measured_kv_cache_tokens": seen.numbers.kv_cache_tokens if seen else None,
            }
        )
    return rows


def status_table(
    services: list[ServiceConfig],
    states: dict[str, ContainerState],
    ready: dict[str, bool],
    measured: dict[str, Measured] | None = None,
) -> Table:
    table = Table(title="ascendgen status", title_justify="left")
    for column in ("Service", "State", "Health", "Port", "NPUs", "Model", "Uptime", "Ready", "KV tokens vLLM/plan"):
        table.add_column(column)
    for row in status_rows(services, states, ready, measured):
        table.add_row(
            row["service"],
            row["state"],
            row["health"] or "-",
            str(row["port"] or "-"),
            ",".join(map(str, row["npus"])) or "-",
            row["model"] or "-",
            _uptime(row["uptime_s"]),
            "[success]yes[/]" if row["ready"] else "[warning]no[/]",
            f"{_count(row['measured_kv_cache_tokens'])}/{_count(row['planned_kv_cache_tokens'])}",
        )
    return table


def _count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def smoke_table(results: list[tuple[ServiceConfig, str, Answer | str]]) -> Table:
    """One row per request: the service it went through, the model asked, and the answer or the error. Tokens
    are those generated (a chat) or read (an embedding, a ranking)."""
    table = Table(title="ascendgen smoke", title_justify="left")
    for column in ("Service", "Model", "Latency", "Tokens", "Tokens/s", "Reply"):
        table.add_column(column)
    for service, model, result in results:
        if isinstance(result, str):
            table.add_row(service.name, model or "-", "-", "-", "-", Text(result, style="error"))
            continue
        table.add_row(
            service.name,
            model or "-",
            f"{result.latency_s:.2f} s",
            str(result.tokens),
            f"{result.tokens_per_s:.1f}",
            Text(result.text[:60].replace("\n", " ")),
        )
    return table


def _percent(planned: float | None, measured: float | None) -> str:
    from ascendgen.vllmlog import difference_percent

    if planned is None or measured is None:
        return "-"
    difference = difference_percent(planned, measured)
    return "-" if difference is None else f"{difference:+.1f}%"


def _number(value: float | None, digits: int = 2, suffix: str = "") -> str:
    return "-" if value is None else f"{value:.{digits}f}{suffix}"


def plan_vs_vllm_table(measured: list[Measured]) -> FitWidth:
    """The plan's KV cache, weights and concurrency beside what vLLM logged at start; narrower: tokens only."""
    layouts = []
    for wide in (True, False):
        table = Table(title="the plan against vLLM's startup log (per NPU)", title_justify="left")
        columns = ["Service", "KV tokens plan", "vLLM", "diff"]
        if wide:
            columns += ["KV GiB plan", "vLLM", "Weights GiB plan", "vLLM", "Concurrency plan", "vLLM"]
        for column in columns:
            table.add_column(column, no_wrap=True, justify="left" if column == "Service" else "right")
        for item in measured:
            p, m = item.planned, item.numbers
            planned_tokens = p.kv_cache_tokens if p else None
            row = [item.service.name, _count(planned_tokens), _count(m.kv_cache_tokens)]
            row.append(_percent(planned_tokens, m.kv_cache_tokens))
            if wide:
                max_len = item.service.serve_flag("--max-model-len")
                concurrency = (
                    planned_tokens / int(max_len) if planned_tokens and max_len and max_len.isdigit() else None
                )
                row += [_number(p.kv_cache_gib if p else None), _number(m.kv_cache_gib)]
                row += [_number(p.weights_gib if p else None), _number(m.weights_gib)]
                row += [_number(concurrency, 2, "x"), _number(m.max_concurrency, 2, "x")]
            table.add_row(*row)
        layouts.append(table)
    return FitWidth(*layouts)
