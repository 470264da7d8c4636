"""The planner: pure functions from (model, hardware, image, options) to a Plan with every number
explained. No files, no printing, no Docker.

Memory per NPU follows how vLLM / vllm-ascend size the KV cache (vllm_ascend/worker/worker.py,
determine_available_memory): HBM x gpu_memory_utilization, minus the weights of one rank, minus the peak
activation of the profiling run and non-torch memory (CANN runtime, HCCL buffers). What is left is the
KV cache, cut into blocks of 128 tokens (vllm_ascend/utils.py refresh_block_size)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from ascendgen.catalog import ModelSpec
from ascendgen.envfile import EnvRef
from ascendgen.errors import PlanError
from ascendgen.hardware import KvCacheMargin, NpuType, Platform, ServerProfile
from ascendgen.images import ImageChoice, tag_key
from ascendgen.npuset import format_npus

GIB = 1024**3
BLOCK_TOKENS = 128  # KV block size on Ascend whenever prefix caching or chunked prefill is on (default)
KV_DTYPE_BYTES = 2  # bf16/fp16 KV cache; vllm-ascend keeps KV in the model dtype
# The shortest context worth serving when the full one does not fit: GPUStack injects 8192 for the same
# reason; below it a chat with some history is cut off.
MIN_USEFUL_MODEL_LEN = 8192
DEFAULT_PORT = 8000
API_KEY_ENV = "VLLM_API_KEY"
EP_FLAG = "--enable-expert-parallel"
KV_CACHE_MEMORY_FLAG = "--kv-cache-memory-bytes"
DP_FLAG = "--data-parallel-size"
BACKEND_HOST = "127.0.0.1"  # instances behind a gateway serve this machine only
# LiteLLM reads any config value that starts with this as an environment variable's name (gateway.py cites it)
LITELLM_ENV_PREFIX = "os.environ/"
# Seed 003 (Qwen3-VL-30B-A3B-Instruct, 256 concurrent requests, 2 x 8 x 910B4): one node TP 2500 tok/s;
# across two nodes TP 2200 (-12%), TP+PP 1800 (-28%), TP+EP 2100 (-16%).
CROSS_NODE_COST = "cross-node TP/PP/EP cost 12-28% throughput on 910B4 in seed 003's measurement"
MAX_PLANNED_TP = 64
# ACL graph capture happens after the KV cache is sized, in the memory gpu_memory_utilization leaves out:
# 0.04-0.79 GiB in published vllm-ascend logs (issues 11514, 13439).
GRAPH_HEADROOM_GIB = 1.0

# Bytes per parameter. Ascend W8A8 builds (msModelSlim) keep embeddings and lm_head in bf16 and store
# linear weights as int8 (1 byte); W4A8 packs linear weights in 4 bits. The weight bits name the rest (W8A16: int8
# weights, W4A4 / W4A16: 4-bit weights). A model planned from its files has its exact bytes (weight_bytes) instead.
_LINEAR_BYTES = {None: 2.0, "w8a8": 1.0, "w4a8": 0.5, "w4a4": 0.5, "w8a16": 1.0, "w4a16": 0.5}
# A MoE model's W4A8 build puts 4-bit weights in the routed experts only: vllm-ascend registers msModelSlim's
# W4A8_DYNAMIC for MoE layers alone (vllm_ascend/quantization/methods/w4a8.py, @register_scheme("W4A8_DYNAMIC",
# "moe"): "Each int8 element stores two packed 4-bit weight values"), so attention, shared experts and dense layers
# stay W8A8_DYNAMIC (1 byte; quant_model_description.json names each weight's type).
_NON_EXPERT_BYTES = {"w4a8": 1.0}


@dataclass(frozen=True)
class PlanOptions:
    tp: int | None = None
    npus: tuple[int, ...] | None = None
    gpu_memory_utilization: float | None = None
    max_model_len: int | None = None
    port: int = DEFAULT_PORT
    models_dir: str = "/models"
    cache_dir: str = "/root/.cache"
    host: str | None = None  # the address vLLM binds; None: all interfaces (vLLM's default)
    require_api_key: bool = False  # vLLM requires the key in .env (VLLM_API_KEY) on every /v1 request
    nodes: int = 1  # servers the model spans (Ray); tp x pp ranks, npu_count of them per server
    pp: int = 1  # pipeline stages
    expert_parallel: bool | None = None  # None: as the catalog says; False: drop it (multi-node TP, PP)
    # npus were placed by ascendgen for the TP the planner chose (several instances), not given with --npus:
    # the TP's reason is then the memory one
    npus_placed: bool = False
    dp: int = 1  # data-parallel ranks (vLLM engines of TP NPUs each) behind one API port
    # choose dp: the most ranks that fit the NPUs given (--npus), else `npu_budget`, else the server's; with nodes > 1,
    # every NPU of every node (vLLM's multi-node data parallel, without Ray)
    fill: bool = False
    npu_budget: int | None = None  # NPUs `fill` may use on a server other instances share


@dataclass(frozen=True)
class MemoryPerNpu:
    """One NPU's memory at a TP size, in GiB."""

    hbm_gib: float
    visible_gib: float  # what torch_npu reports as total
    usable_gib: float  # visible x gpu_memory_utilization
    weights_gib: float
    activation_gib: float
    runtime_gib: float  # CANN runtime + HCCL buffers
    kv_budget_factor: float

    @property
    def kv_cache_gib(self) -> float:
        left = self.usable_gib - self.weights_gib - self.activation_gib - self.runtime_gib
        return max(0.0, left) * self.kv_budget_factor


@dataclass(frozen=True)
class Plan:
    model: ModelSpec
    npu_type: NpuType
    platform: Platform
    server: ServerProfile
    image: ImageChoice
    tensor_parallel_size: int
    pipeline_parallel_size: int
    nodes: int
    tp_reason: str
    valid_tp_sizes: tuple[int, ...]
    npus: tuple[int, ...]
    gpu_memory_utilization: float
    memory: MemoryPerNpu
    kv_bytes_per_token: int
    kv_cache_tokens: int
    max_model_len: int
    max_model_len_reason: str
    port: int
    model_path: str
    models_dir: str
    cache_dir: str
    serve_args: tuple[str, ...]
    environment: tuple[tuple[str, str | EnvRef], ...]
    warnings: tuple[str, ...] = field(default=())
    kv_cache_margin_tokens: int = 0  # KV cache tokens kept back from a max-model-len set from the KV capacity
    model_source: Literal["catalog", "files"] = "catalog"  # where the model's numbers came from
    files_read: tuple[str, ...] = ()  # the model directory's files read (config.json, safetensors headers, ...)
    # data parallel: engines of `tensor_parallel_size` NPUs each, one API port; kv_cache_tokens is one engine's
    data_parallel_size: int = 1
    dp_reason: str = ""

    @property
    def max_concurrency(self) -> float:
        """Full-length requests whose KV cache fits at once (vLLM logs it as 'Maximum concurrency'), in all
        data-parallel engines together: each has its own KV cache."""
        return round(self.kv_cache_tokens / self.max_model_len * self.data_parallel_size, 2)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model.name,
            "hub_id": self.model.hub_id,
            "served_model_name": self.model.served_model_name,
            "server": self.server.name,
            "npu_type": self.npu_type.name,
            "hbm_gib": self.npu_type.memory_gib,
            "tensor_parallel_size": self.tensor_parallel_size,
            "pipeline_parallel_size": self.pipeline_parallel_size,
            "data_parallel_size": self.data_parallel_size,
            "nodes": self.nodes,
            "tp_reason": self.tp_reason,
            "dp_reason": self.dp_reason,
            "valid_tp_sizes": list(self.valid_tp_sizes),
            "npus": list(self.npus),
            "gpu_memory_utilization": self.gpu_memory_utilization,
            "weights_gib_per_npu": round(self.memory.weights_gib, 2),
            "activation_reserve_gib": self.memory.activation_gib,
            "runtime_reserve_gib": round(self.memory.runtime_gib, 2),
            "kv_bytes_per_token": self.kv_bytes_per_token,
            "kv_cache_gib_per_npu": round(self.memory.kv_cache_gib, 2),
            "kv_cache_tokens": self.kv_cache_tokens,
            "max_model_len": self.max_model_len,
            "max_model_len_reason": self.max_model_len_reason,
            "kv_cache_margin": self.kv_cache_margin_tokens,
            "kv_cache_margin_percent": self.platform.kv_cache_margin.percent,
            "max_concurrency": self.max_concurrency,
            "port": self.port,
            "image": self.image.reference,
            "vllm_version": self.image.spec.vllm,
            "model_path": self.model_path,
            "serve_args": list(self.serve_args),
            "environment": {name: str(value) for name, value in self.environment},
            "warnings": list(self.warnings),
            "source": self.model_source,
            "files_read": list(self.files_read),
        }


# ---------------------------------------------------------------------------------------------- numbers


def weights_gib(model: ModelSpec) -> float:
    """All weights of the model in GiB (MoE: every expert, not only the active ones): the exact bytes read from
    the model's files when known, else parameters x bytes per parameter. A quantized build keeps the input
    embedding and lm_head in bf16; a MoE model's W4A8 build has 4-bit routed experts and 8-bit other linear layers."""
    if model.weight_bytes is not None:
        return model.weight_bytes / GIB
    total = model.params_b * 1e9
    linear_bytes = _LINEAR_BYTES[model.quantization]
    if model.quantization is None:
        return total * linear_bytes / GIB
    embeddings = 2 * model.vocab_size * model.hidden_size  # input embedding + lm_head, kept in bf16
    experts, rest_bytes = 0.0, linear_bytes
    if model.kind == "moe" and model.quantization in _NON_EXPERT_BYTES:
        experts, rest_bytes = routed_expert_params(model), _NON_EXPERT_BYTES[model.quantization]
    return (experts * linear_bytes + (total - embeddings - experts) * rest_bytes + embeddings * 2.0) / GIB


def routed_expert_params(model: ModelSpec) -> float:
    """A MoE model's routed experts (all of them), in parameters; 0 for a dense model. Each token runs k of the n
    experts, so active = all - routed x (1 - k / n): with k known (experts_per_token, config.json's
    num_experts_per_tok) routed = (all - active) / (1 - k / n); without it all - active, a lower bound. Either way the
    routed experts are never overestimated, so the bytes that rest on them (W4A8, data parallel) are never
    underestimated."""
    if model.kind != "moe" or model.active_params_b is None:
        return 0.0
    idle = model.params_b - model.active_params_b
    if model.experts_per_token is not None and model.num_experts is not None:
        idle /= 1 - model.experts_per_token / model.num_experts
    return min(idle, model.params_b) * 1e9


def expert_weights_gib(model: ModelSpec) -> float:
    """A MoE model's routed experts, in GiB: the weights data parallel spreads over all DP x TP NPUs
    (routed_expert_params, never overestimated: the weights per NPU are never underestimated). The experts are linear
    layers (quantized like them); a model planned from its files splits its exact bytes so."""
    routed = routed_expert_params(model)
    if routed == 0.0:
        return 0.0
    if model.weight_bytes is not None:
        return model.weight_bytes * routed / (model.params_b * 1e9) / GIB
    return routed * _LINEAR_BYTES[model.quantization] / GIB


def weights_per_npu_gib(model: ModelSpec, tp: int, pp: int = 1, dp: int = 1) -> float:
    """One rank's weights. Each data-parallel engine holds its own copy of the model, split by TP (x PP), except a
    MoE model's experts, which vLLM shards over all DP x TP ranks, with or without expert parallel
    (vllm/model_executor/layers/fused_moe/config.py, FusedMoEParallelConfig.make: "There are 2 engine instances
    and the experts are split between the 4 devices")."""
    if dp == 1 or model.kind != "moe":
        return weights_gib(model) / (tp * pp)
    experts = expert_weights_gib(model)
    return (weights_gib(model) - experts) / (tp * pp) + experts / (tp * pp * dp)


def kv_cache_layers(model: ModelSpec) -> int:
    """Layers whose KV cache grows with the context: all of them, except a hybrid model's linear-attention layers
    (their state has a fixed size per request)."""
    return model.kv_cache_layers or model.num_layers


def kv_dtype_bytes(model: ModelSpec) -> int:
    """Bytes per KV cache element: the model dtype's 2, or 1 for a C8 build, whose attention layers vllm-ascend
    gives an int8 KV cache (vllm_ascend/quantization/methods/kv_c8.py, AscendC8KVCacheAttentionMethod)."""
    return 1 if model.kv_cache_dtype == "int8" else KV_DTYPE_BYTES


def kv_bytes_per_token(model: ModelSpec, tp: int, pp: int = 1) -> int:
    """KV cache bytes one token takes on one rank.

    GQA/MHA: K and V, per layer, for the KV heads this rank holds (at least one: a rank with fewer KV
    heads than TP keeps a replica). MLA: one latent (kv_lora_rank + rope part) per layer, not split by TP.
    With PP a rank holds the layers of its stage only (the first stages take the remainder). Only layers with a
    growing KV cache count (kv_cache_layers).
    """
    layers = -(-kv_cache_layers(model) // pp)
    if model.mla is not None:
        return layers * (model.mla.kv_lora_rank + model.mla.qk_rope_head_dim) * kv_dtype_bytes(model)
    kv_heads_per_rank = max(1, model.num_key_value_heads // tp)
    return 2 * layers * kv_heads_per_rank * model.head_dim * kv_dtype_bytes(model)


def tp_is_valid(model: ModelSpec, tp: int) -> bool:
    kv_heads = None if model.attention == "mla" else model.num_key_value_heads
    return tp_divides_heads(tp, model.num_attention_heads, kv_heads)


def tp_divides_heads(tp: int, heads: int, kv_heads: int | None) -> bool:
    """vLLM's rule: TP divides the attention heads; KV heads split evenly or are replicated evenly
    (QKVParallelLinear). `kv_heads` None: MLA, or not known."""
    if tp < 1 or tp & (tp - 1) or heads % tp:
        return False
    if kv_heads is None:
        return True
    return kv_heads % tp == 0 if kv_heads >= tp else tp % kv_heads == 0


def valid_tp_sizes(model: ModelSpec, limit: int) -> tuple[int, ...]:
    kv_heads = None if model.attention == "mla" else model.num_key_value_heads
    return tp_sizes_for_heads(model.num_attention_heads, kv_heads, limit)


def tp_sizes_for_heads(heads: int, kv_heads: int | None, limit: int) -> tuple[int, ...]:
    """The powers of two up to `limit` that vLLM accepts as TP for these heads."""
    sizes, tp = [], 1
    while tp <= limit:
        if tp_divides_heads(tp, heads, kv_heads):
            sizes.append(tp)
        tp *= 2
    return tuple(sizes)


def uses_expert_parallel(model: ModelSpec) -> bool:
    return EP_FLAG in model.serve_flags


def hccl_groups(model: ModelSpec, tp: int, pp: int = 1, dp: int = 1) -> int:
    """Process groups with HCCL buffers a rank joins: the TP group, the EP group of a MoE model with
    expert parallel (over DP x TP ranks), the PP group, and the DP group (vllm_ascend/utils.py
    get_hccl_config_for_pg_options: group "dp", at least 50 MB; counted as a whole group, a margin)."""
    groups = 1 if tp > 1 else 0
    groups += 1 if uses_expert_parallel(model) and tp * dp > 1 else 0
    return groups + (1 if pp > 1 else 0) + (1 if dp > 1 else 0)


def memory_per_npu(
    model: ModelSpec,
    npu: NpuType,
    platform: Platform,
    tp: int,
    gpu_memory_utilization: float,
    image_tag: str,
    pp: int = 1,
    dp: int = 1,
) -> MemoryPerNpu:
    reserves = platform.reserves_for(image_tag)
    activation = reserves.activation_gib + (reserves.vision_extra_gib if model.vision else 0.0)
    activation += reserves.moe_extra_gib if model.kind == "moe" else 0.0
    factor = platform.kv_budget_factor
    if platform.kv_budget_factor_since and tag_key(image_tag) < tag_key(platform.kv_budget_factor_since):
        factor = 1.0
    return MemoryPerNpu(
        hbm_gib=npu.memory_gib,
        visible_gib=npu.visible_gib,
        usable_gib=npu.visible_gib * gpu_memory_utilization,
        weights_gib=weights_per_npu_gib(model, tp, pp, dp),
        activation_gib=activation,
        runtime_gib=reserves.runtime_gib + reserves.hccl_gib * hccl_groups(model, tp, pp, dp),
        kv_budget_factor=factor,
    )


def kv_capacity_tokens(memory: MemoryPerNpu, bytes_per_token: int) -> int:
    """Tokens the KV cache holds, in whole blocks of 128."""
    blocks = int(memory.kv_cache_gib * GIB) // (bytes_per_token * BLOCK_TOKENS)
    return blocks * BLOCK_TOKENS


def npus_needed(
    model: ModelSpec, npu: NpuType, platform: Platform, gpu_memory_utilization: float, image_tag: str
) -> int | None:
    """The fewest NPUs (a valid TP) at which the weights fit and a useful context remains."""
    wanted = min(model.max_position_embeddings, MIN_USEFUL_MODEL_LEN)
    for tp in valid_tp_sizes(model, MAX_PLANNED_TP):
        memory = memory_per_npu(model, npu, platform, tp, gpu_memory_utilization, image_tag)
        if kv_capacity_tokens(memory, kv_bytes_per_token(model, tp)) >= wanted:
            return tp
    return None


@dataclass(frozen=True)
class Sizing:
    """One model on one NPU type at one utilization and image: the memory math at any TP."""

    model: ModelSpec
    npu: NpuType
    platform: Platform
    util: float
    image_tag: str
    quantized: tuple[ModelSpec, ...] = ()  # quantized builds of the model, named when it does not fit
    dp: int = 1  # data-parallel ranks: a MoE model's experts are split over dp x tp NPUs

    def memory(self, tp: int, pp: int = 1) -> MemoryPerNpu:
        return memory_per_npu(self.model, self.npu, self.platform, tp, self.util, self.image_tag, pp, self.dp)

    def capacity(self, tp: int, pp: int = 1) -> int:
        return kv_capacity_tokens(self.memory(tp, pp), kv_bytes_per_token(self.model, tp, pp))

    def npus_needed(self) -> int | None:
        return npus_needed(self.model, self.npu, self.platform, self.util, self.image_tag)


# ------------------------------------------------------------------------------------------------- plan


def plan_deployment(
    model: ModelSpec,
    *,
    npu: NpuType,
    platform: Platform,
    server: ServerProfile,
    image: ImageChoice,
    options: PlanOptions,
    quantized: tuple[ModelSpec, ...] = (),
) -> Plan:
    """The plan for one model; `quantized` lists quantized builds of it (see quantized_builds), named in the
    error when the model does not fit."""
    util = options.gpu_memory_utilization
    if util is None:
        util = image.spec.gpu_memory_utilization_default
    if not 0 < util <= 1:
        raise PlanError(f"--gpu-memory-utilization {util} must be above 0 and at most 1")
    dtype = serve_dtype(model, npu, platform)
    _check_kv_cache_memory_flags(model, image, platform)
    _check_port(options.port)
    _check_host(options.host)
    one_server = Sizing(model, npu, platform, util, image.spec.tag)  # as `ascendgen plan MODEL` plans it alone
    if options.expert_parallel is False:
        model = replace(model, serve_flags=tuple(f for f in model.serve_flags if f != EP_FLAG))
    sizing = Sizing(model, npu, platform, util, image.spec.tag, quantized)
    pp, dp, dp_reason = options.pp, 1, ""
    if options.nodes > 1 and options.fill:
        if not image.spec.flags.headless:  # images.yaml flags: the other nodes run `vllm serve --headless`
            raise PlanError(
                f"the data-parallel layouts run `vllm serve --headless` on the other nodes, which vLLM "
                f"{image.spec.vllm} in {image.reference} does not have; use a newer --image, or a Ray layout (tp, ep)"
            )
        tp, tp_reason, dp, dp_reason = _cluster_dp(sizing, server, options)
        npus = tuple(range(server.npu_count))
    elif options.nodes > 1:
        tp, tp_reason = _cluster_tp(sizing, server, options)
        npus = tuple(range(server.npu_count))
    elif options.dp > 1 or options.fill:
        _check_npus(server, options.npus)
        tp, tp_reason, dp, dp_reason = _choose_dp(sizing, server, options)
        npus = options.npus[: tp * dp] if options.npus else _first_npus(server, tp * dp)
    else:
        _check_npus(server, options.npus)
        tp, tp_reason = _choose_tp(sizing, server, options)
        npus = options.npus or _first_npus(server, tp)
    sizing = replace(sizing, dp=dp)
    memory = sizing.memory(tp, pp)
    bytes_per_token = kv_bytes_per_token(model, tp, pp)
    capacity = kv_capacity_tokens(memory, bytes_per_token)
    max_len, len_reason, kept_back = _choose_max_model_len(
        model, tp, capacity, options.max_model_len, platform.kv_cache_margin
    )

    requested = options.max_model_len is not None
    warnings = _warnings(sizing, image, server, memory, tp, pp, capacity, max_len, requested)
    if options.nodes > 1 and (not options.fill or model.kind == "moe"):  # a dense model's DP ranks talk little
        warnings += _cluster_warnings(one_server, server)
    if dtype is not None:
        warnings.append(
            f"{model.name} is a {model.dtype} checkpoint and {npu.name} runs {'/'.join(platform.dtypes)}: served with "
            f"--dtype {dtype}, vLLM casts the weights as it loads them (float16 holds values up to 65504, bfloat16 "
            "far more)"
        )
    model_path = f"/models/{model.hub_id}"
    serve_args = _serve_args(model, image, tp, dp, options.port, max_len, util, model_path, options, dtype=dtype)
    image_env = {k: v for k, v in image.spec.env.items() if k not in platform.drop_env}
    # The seeds set VLLM_USE_MODELSCOPE=True: a model id that is not a local path loads from ModelScope,
    # which is reachable from China where Hugging Face often is not.
    environment: list[tuple[str, str | EnvRef]] = [("VLLM_USE_MODELSCOPE", "True"), *sorted(image_env.items())]
    if options.require_api_key:
        environment.append((API_KEY_ENV, EnvRef(API_KEY_ENV)))  # vLLM reads it as --api-key's default
    if options.host is None and not options.require_api_key:
        warnings.append(
            "the API listens on all interfaces without an API key: anyone who reaches this host can use it "
            "(add --generate-api-key, or --host 127.0.0.1 to serve this machine only)"
        )
    return Plan(
        model=model,
        npu_type=npu,
        platform=platform,
        server=server,
        image=image,
        tensor_parallel_size=tp,
        pipeline_parallel_size=pp,
        nodes=options.nodes,
        tp_reason=tp_reason,
        valid_tp_sizes=valid_tp_sizes(model, server.npu_count * options.nodes),
        npus=tuple(npus),
        gpu_memory_utilization=util,
        memory=memory,
        kv_bytes_per_token=bytes_per_token,
        kv_cache_tokens=capacity,
        max_model_len=max_len,
        max_model_len_reason=len_reason,
        kv_cache_margin_tokens=kept_back,
        port=options.port,
        model_path=model_path,
        models_dir=options.models_dir,
        cache_dir=options.cache_dir,
        serve_args=serve_args,
        environment=tuple(environment),
        warnings=tuple(warnings),
        data_parallel_size=dp,
        dp_reason=dp_reason,
    )


def serve_dtype(model: ModelSpec, npu: NpuType, platform: Platform) -> str | None:
    """The `--dtype` to serve `model` with: None when its checkpoint's dtype runs on the platform; else the platform's
    serve_dtype (a bfloat16 checkpoint on a 310P: float16, which vLLM casts the weights to as it loads them; same
    2 bytes per weight and per KV element); refused on a platform without one."""
    if model.dtype in platform.dtypes:
        return None
    if platform.serve_dtype is None:
        raise PlanError(
            f"{model.name} is {model.dtype}, which {npu.name} ({platform.name}) does not run; "
            f"it needs a {'/'.join(platform.dtypes)} build"
        )
    return platform.serve_dtype


def kv_cache_memory_honoured(image: ImageChoice, platform: Platform) -> bool:
    """Whether `--kv-cache-memory-bytes` sizes the KV cache with this image on this platform: the image's NPUWorker
    honours it (images.yaml flags.kv_cache_memory: from v0.19.1rc1) and the platform's worker does too (not the
    310P's: hardware.yaml honours_kv_cache_memory_bytes). Anything that emits the flag asks this first."""
    return image.spec.flags.kv_cache_memory and platform.honours_kv_cache_memory_bytes


def _is_kv_cache_memory_flag(flag: str) -> bool:
    """--kv-cache-memory-bytes, or a prefix argparse expands to it (vLLM's own hint writes --kv-cache-memory=N)."""
    name = flag.split("=", 1)[0]
    return name.startswith("--kv-cache-mem") and KV_CACHE_MEMORY_FLAG.startswith(name)


def _check_kv_cache_memory_flags(model: ModelSpec, image: ImageChoice, platform: Platform) -> None:
    """A catalog's --kv-cache-memory-bytes where it is not honoured would leave the KV cache sized by
    gpu-memory-utilization while the plan promised another size: refused."""
    flag = next((f for f in model.serve_flags if _is_kv_cache_memory_flag(f)), None)
    if flag is None or kv_cache_memory_honoured(image, platform):
        return
    if not platform.honours_kv_cache_memory_bytes:
        who = f"the {platform.name} worker (vllm_ascend/_310p/worker_310p.py ignores it)"
    else:
        who = f"image {image.spec.tag} (vllm-ascend honours it from v0.19.1rc1)"
    raise PlanError(
        f"{model.name}'s serve flag {flag} is not honoured by {who}: drop it from serve_flags; "
        "--gpu-memory-utilization sets the memory vLLM may use"
    )


def _check_host(host: str | None) -> None:
    if host is not None and not re.fullmatch(r"[A-Za-z0-9.:_\-\[\]]{1,255}", host):
        raise PlanError(f"--host '{host}' is not an address vLLM can bind (e.g. 127.0.0.1 or 0.0.0.0)")


def _check_port(port: int) -> None:
    if not 1 <= port <= 65535:
        raise PlanError(f"--port {port} is not a TCP port (1-65535)")


def _check_npus(server: ServerProfile, requested: tuple[int, ...] | None) -> None:
    outside = [i for i in requested or () if i >= server.npu_count]
    if outside:
        raise PlanError(f"--npus: NPU {outside[0]} is not on {server.name}, which has NPUs 0-{server.npu_count - 1}")


def _first_npus(server: ServerProfile, count: int) -> tuple[int, ...]:
    return tuple(range(count))


def _wanted_length(model: ModelSpec, options: PlanOptions) -> int:
    """The length TP is sized for: --max-model-len (refused above the model's context), else a useful one."""
    if options.max_model_len is not None and options.max_model_len > model.max_position_embeddings:
        raise PlanError(
            f"--max-model-len {options.max_model_len} is above {model.name}'s context of "
            f"{model.max_position_embeddings} tokens (max_position_embeddings)"
        )
    return options.max_model_len or _useful_len(model)


def _choose_tp(sizing: Sizing, server: ServerProfile, options: PlanOptions) -> tuple[int, str]:
    model = sizing.model
    valid = valid_tp_sizes(model, server.npu_count)
    heads = f"{model.num_attention_heads} attention heads and {model.num_key_value_heads} KV heads"
    wanted = _wanted_length(model, options)
    smallest = next((tp for tp in valid if sizing.capacity(tp) >= wanted), None)
    if options.tp is not None:
        if not tp_is_valid(model, options.tp):
            raise PlanError(
                f"--tp {options.tp} does not divide {model.name}'s {heads}; "
                f"valid sizes: {', '.join(map(str, valid)) or 'none on this server'}"
            )
        if options.tp > server.npu_count:
            raise PlanError(
                f"--tp {options.tp} needs {options.tp} NPUs; {server.name} has {server.npu_count} (to span "
                "servers, give one --node ADDR:IF per server instead: the layout sets TP)"
            )
        if options.npus is not None and len(options.npus) != options.tp:
            raise PlanError(
                f"--tp {options.tp} uses {options.tp} NPUs but --npus {format_npus(options.npus)} "
                f"lists {len(options.npus)}"
            )
        _require_fit(sizing, options.tp, server, f"{options.tp} x {sizing.npu.name} (--tp {options.tp})", "--tp")
        return options.tp, _against_smallest("set with --tp", sizing, options.tp, smallest, wanted)
    if options.npus is not None and not options.npus_placed:
        count, listed = len(options.npus), format_npus(options.npus)
        if not tp_is_valid(model, count):
            raise PlanError(
                f"--npus {listed} gives {count} NPUs, but TP {count} does not divide "
                f"{model.name}'s {heads}; valid sizes: {', '.join(map(str, valid))}"
            )
        _require_fit(sizing, count, server, f"the {count} NPUs given with --npus {listed}", "--npus")
        return count, _against_smallest(f"one rank per NPU given with --npus {listed}", sizing, count, smallest, wanted)
    if smallest is not None:
        return smallest, _smallest_reason(sizing, valid, smallest, wanted)
    largest = valid[-1] if valid else 1
    _require_fit(sizing, largest, server, _one_server(server, sizing.npu))
    capacity = sizing.capacity(largest)
    if options.max_model_len is not None:
        raise PlanError(
            f"--max-model-len {wanted} does not fit: the KV cache holds at most {capacity} tokens "
            f"(TP {largest} on {sizing.npu.name}); use --max-model-len {capacity} or less"
        )
    raise PlanError(
        f"{model.name} does not fit on {_one_server(server, sizing.npu)}: at TP {largest} "
        f"{_why_short(sizing, largest, wanted)}; {_remedy(sizing, server)}"
    )


def _choose_dp(sizing: Sizing, server: ServerProfile, options: PlanOptions) -> tuple[int, str, int, str]:
    """TP and data-parallel size on one server: `--dp N` engines (TP the smallest at which each holds the weights
    and a useful context, or as --tp / --npus fix it), or with --fill the most engines that fit the NPUs at hand.
    vLLM runs them behind one API port and balances requests across them (vllm serve --data-parallel-size)."""
    model, npu = sizing.model, sizing.npu
    valid = valid_tp_sizes(model, server.npu_count)
    heads = f"{model.num_attention_heads} attention heads and {model.num_key_value_heads} KV heads"
    wanted = _wanted_length(model, options)
    given = options.npus if options.npus is not None and not options.npus_placed else None
    budget = len(options.npus) if options.npus is not None else (options.npu_budget or server.npu_count)
    if given is not None:
        where = f"the {budget} NPUs given with --npus {format_npus(given)}"
    elif options.npu_budget is not None:
        where = f"the {options.npu_budget} NPUs left for it on {server.name}"
    else:
        where = _one_server(server, npu)
    if options.tp is not None and not tp_is_valid(model, options.tp):
        raise PlanError(
            f"--tp {options.tp} does not divide {model.name}'s {heads}; "
            f"valid sizes: {', '.join(map(str, valid)) or 'none on this server'}"
        )
    if options.fill:
        return _fill(sizing, server, options, valid, budget, where, wanted)
    dp = options.dp
    at = replace(sizing, dp=dp)
    if given is not None:
        if budget % dp:
            raise PlanError(
                f"--npus {format_npus(given)} gives {budget} NPUs, which {dp} data-parallel ranks cannot share evenly: "
                f"list a multiple of --dp {dp} NPUs"
            )
        tp = budget // dp
        if options.tp is not None and options.tp != tp:
            raise PlanError(
                f"--tp {options.tp} x --dp {dp} uses {options.tp * dp} NPUs but --npus {format_npus(given)} "
                f"lists {budget}"
            )
        if not tp_is_valid(model, tp):
            raise PlanError(
                f"--npus {format_npus(given)} over --dp {dp} gives TP {tp}, which does not divide {model.name}'s "
                f"{heads}; valid sizes: {', '.join(map(str, valid))}"
            )
        chosen = f"{budget} NPUs given with --npus over --dp {dp}"
    elif options.tp is not None:
        tp, chosen = options.tp, "set with --tp"
    else:
        fitting = [t for t in valid if t * dp <= budget]
        tp = next((t for t in fitting if at.capacity(t) >= wanted), 0)
        if not tp:
            largest = fitting[-1] if fitting else valid[0] if valid else 1
            short = _why_short(at, largest, wanted) if fitting else f"the ranks need {dp * largest} NPUs"
            needed = sizing.npus_needed()
            fix = f"--dp {budget // needed} at most" if needed and budget // needed >= 1 else _remedy(sizing, server)
            raise PlanError(
                f"{model.name} does not fit {dp} times on {where}: at TP {largest} x DP {dp} {short}; "
                f"{fix}, or --fill to take as many ranks as fit"
            )
    if tp * dp > budget:
        raise PlanError(
            f"--dp {dp} x TP {tp} needs {tp * dp} NPUs; {where} {'are' if given else 'has'} {budget}: use a smaller "
            f"--dp (at most {max(1, budget // tp)}), or --fill to take as many ranks as fit"
        )
    _require_fit(at, tp, server, f"{tp} x {npu.name} per data-parallel rank", "--tp" if options.tp else None)
    if options.tp is None and given is None:
        tp_reason = _smallest_reason(at, valid, tp, wanted)
    else:
        smallest = next((t for t in valid if at.capacity(t) >= wanted), None)
        tp_reason = _against_smallest(chosen, at, tp, smallest, wanted)
    return tp, tp_reason, dp, f"set with --dp: {_dp_ranks(model, dp, tp)}"


def _fill(
    sizing: Sizing, server: ServerProfile, options: PlanOptions, valid: tuple[int, ...], budget: int, where: str,
    wanted: int,
) -> tuple[int, str, int, str]:  # fmt: skip
    """--fill: the most data-parallel ranks on `budget` NPUs. The smallest TP that holds the weights and `wanted`
    tokens gives the most ranks (a MoE model's experts also spread over more NPUs as ranks are added); --tp fixes
    TP, and then a rank needs only room for the weights and one KV block."""
    model = sizing.model
    candidates = [options.tp] if options.tp is not None else [t for t in valid if t <= budget]
    if not candidates:
        raise PlanError(f"--fill: {where} hold no valid TP of {model.name} (valid sizes: {', '.join(map(str, valid))})")
    need = BLOCK_TOKENS if options.tp is not None else wanted
    for tp in candidates:
        dp = budget // tp
        if dp >= 1 and replace(sizing, dp=dp).capacity(tp) >= need:
            break
    else:
        tp = candidates[-1]
        dp = max(1, budget // tp)
        if tp > budget:
            raise PlanError(f"--fill --tp {tp} needs {tp} NPUs per rank; {where}: {budget} NPUs")
        at = replace(sizing, dp=dp)
        why = _why_short(at, tp, wanted)
        raise PlanError(f"{model.name} does not fit on {where}: at TP {tp} x DP {dp} {why}; {_remedy(sizing, server)}")
    at = replace(sizing, dp=dp)
    if options.tp is not None:
        smallest = next((t for t in valid if at.capacity(t) >= wanted), None)
        tp_reason = _against_smallest("set with --tp", at, tp, smallest, wanted)
    else:
        tp_reason = "for each data-parallel rank, " + _smallest_reason(at, valid, tp, wanted)
    idle = budget - tp * dp
    left = f" ({idle} NPU{'s' if idle > 1 else ''} left idle)" if idle else ""
    return tp, tp_reason, dp, f"--fill: the most ranks of TP {tp} on {where}{left}: {_dp_ranks(model, dp, tp)}"


def _dp_ranks(model: ModelSpec, dp: int, tp: int) -> str:
    """What `dp` engines of TP `tp` are: one API port, vLLM balancing requests; for a MoE model, the experts."""
    if dp == 1:
        return f"one engine of TP {tp}"
    text = f"{dp} engines of TP {tp} ({dp * tp} NPUs) behind one API port, vLLM balancing requests across them"
    if model.kind == "moe":
        ep = " (expert parallel)" if uses_expert_parallel(model) else ""
        text += f"; the experts are split over all {dp * tp} NPUs{ep}"
    return text


def _cluster_dp(sizing: Sizing, server: ServerProfile, options: PlanOptions) -> tuple[int, str, int, str]:
    """vLLM's multi-node data parallel (no Ray): TP within a server, the smallest at which each rank holds the
    weights and a useful context (a MoE model's experts split over every NPU of every node), and as many ranks as
    the nodes' NPUs hold: `npu_count // tp` per node (vllm-ascend tutorials DeepSeek-R1 / Qwen3-235B, multi-node
    DP: --data-parallel-size-local per node)."""
    model, count, nodes = sizing.model, server.npu_count, options.nodes
    valid = [t for t in valid_tp_sizes(model, count) if count % t == 0]
    wanted = options.max_model_len or _useful_len(model)
    for tp in valid:
        dp = nodes * (count // tp)
        if replace(sizing, dp=dp).capacity(tp) >= wanted:
            break
    else:
        tp = valid[-1] if valid else count
        dp = nodes * max(1, count // tp)
        why = _why_short(replace(sizing, dp=dp), tp, wanted)
        servers = next(
            (n for n in range(nodes + 1, MAX_PLANNED_TP // count + 1) if _dp_fits(sizing, valid, n, count)), 0
        )
        flags = _node_flags(servers).replace("the first the Ray head", "the first runs the API")
        more = f"; it needs {servers} servers with this layout: {flags}" if servers else ""
        raise PlanError(
            f"{model.name} does not fit on {nodes} x {server.name} ({nodes * count} x {sizing.npu.name}) as data "
            f"parallel ranks within a server: at TP {tp} x DP {dp} {why}{more}"
        )
    at = replace(sizing, dp=dp)
    tp_reason = "within a server, for each data-parallel rank, " + _smallest_reason(at, tuple(valid), tp, wanted)
    local = count // tp
    reason = f"{nodes} nodes x {local} ranks of TP {tp}: " + _dp_ranks(model, dp, tp)
    return tp, tp_reason, dp, reason


def _dp_fits(sizing: Sizing, valid: list[int], nodes: int, count: int) -> bool:
    """Whether some TP within a server holds the weights and a useful context with data-parallel ranks on every
    NPU of `nodes` servers of `count` NPUs."""
    wanted = _useful_len(sizing.model)
    return any(replace(sizing, dp=nodes * (count // tp)).capacity(tp) >= wanted for tp in valid)


def _useful_len(model: ModelSpec) -> int:
    return min(model.max_position_embeddings, MIN_USEFUL_MODEL_LEN)


def _holds(wanted: int) -> str:
    return f"the weights and {wanted:,} tokens of KV cache"


def _smallest_reason(sizing: Sizing, valid: tuple[int, ...], tp: int, wanted: int) -> str:
    """Why the planner's TP: the smallest valid size that holds the weights and `wanted` tokens of KV cache,
    and what the next smaller valid size lacks, in GiB."""
    divide = f"{', '.join(map(str, valid))} divide the heads"
    smaller = [t for t in valid if t < tp]
    if not smaller:
        return f"the smallest valid TP ({divide}); it holds {_holds(wanted)}"
    return (
        f"the smallest valid TP ({divide}) that holds {_holds(wanted)}; "
        f"at TP {smaller[-1]} {_why_short(sizing, smaller[-1], wanted)}"
    )


def _against_smallest(chosen: str, sizing: Sizing, tp: int, smallest: int | None, wanted: int) -> str:
    """A TP the user fixed, compared with the smallest that holds the weights and `wanted` tokens."""
    if smallest == tp:
        return f"{chosen}; the smallest TP that holds {_holds(wanted)}"
    if smallest is not None and smallest < tp:
        return f"{chosen}; TP {smallest} would hold {_holds(wanted)}"
    return f"{chosen}; {_why_short(sizing, tp, wanted)}"


def _why_short(sizing: Sizing, tp: int, wanted: int, pp: int = 1) -> str:
    """What TP (x PP) lacks to hold the weights and `wanted` tokens of KV cache, with the numbers:
    the weights alone, the weights with the reserves, or a KV cache that is too small."""
    memory = sizing.memory(tp, pp)
    usable = f"{memory.usable_gib:.1f} GiB usable ({memory.visible_gib:g} GiB x {sizing.util:g})"
    weights = memory.weights_gib
    if weights > memory.usable_gib:
        return f"the weights take {weights:.1f} GiB per NPU, more than the {usable}"
    need = wanted * kv_bytes_per_token(sizing.model, tp, pp) / GIB
    reserves = f"{_reserve(memory.activation_gib)} GiB activation, {_reserve(memory.runtime_gib)} GiB runtime and HCCL"
    capacity = sizing.capacity(tp, pp)
    if capacity < BLOCK_TOKENS:
        taken = weights + memory.activation_gib + memory.runtime_gib
        return (
            f"the weights ({weights:.1f} GiB per NPU) fit, but with the reserves ({reserves}) they take "
            f"{taken:.1f} of the {usable}: no room is left for the KV cache, and {wanted:,} tokens need "
            f"{need:.2f} GiB per NPU"
        )
    factor = memory.kv_budget_factor
    budget = f" x {factor:g} ({sizing.platform.name} KV budget)" if factor != 1 else ""
    return (
        f"the weights ({weights:.1f} GiB per NPU) and reserves ({reserves}) leave {memory.kv_cache_gib:.2f} GiB "
        f"of the {usable} for the KV cache{budget}: {capacity:,} tokens, short of {wanted:,} ({need:.2f} GiB)"
    )


def _reserve(gib: float) -> str:
    """A reserve in GiB as hardware.yaml writes it: 1.0, 0.75, 2.5."""
    text = f"{gib:.2f}"
    return text[:-1] if text.endswith("0") else text


def _one_server(server: ServerProfile, npu: NpuType) -> str:
    return f"one {server.name} ({server.npu_count} x {npu.name})"


def _cluster_tp(sizing: Sizing, server: ServerProfile, options: PlanOptions) -> tuple[int, str]:
    """Across servers the layout fixes TP and PP: every NPU of every node holds one rank."""
    model, tp, pp = sizing.model, options.tp or 0, options.pp
    total = server.npu_count * options.nodes
    if tp * pp != total:
        raise PlanError(f"TP {tp} x PP {pp} must use all {total} NPUs of {options.nodes} x {server.name}")
    if pp > 1 and uses_expert_parallel(model):
        raise PlanError(
            "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: TP+PP+EP "
            "fails at start-up); use the tp or ep layout for this MoE model"
        )
    if not tp_is_valid(model, tp):
        valid = ", ".join(map(str, valid_tp_sizes(model, total)))
        raise PlanError(
            f"TP {tp} does not divide {model.name}'s {model.num_attention_heads} attention heads and "
            f"{model.num_key_value_heads} KV heads; valid sizes: {valid}"
        )
    if pp > model.num_layers:
        raise PlanError(f"PP {pp} is more stages than {model.name}'s {model.num_layers} layers")
    if sizing.capacity(tp, pp) < BLOCK_TOKENS:
        servers = _servers_needed(sizing, server, by_pp=pp > 1)
        if servers is None:
            need = f"this layout does not fit on up to {MAX_PLANNED_TP} x {sizing.npu.name}"
        else:
            need = f"it needs {servers} servers with this layout: {_node_flags(servers)}"
        raise PlanError(
            f"{model.name} does not fit on {options.nodes} x {server.name} ({total} x {sizing.npu.name}): at TP {tp} "
            f"x PP {pp} {_why_short(sizing, tp, _useful_len(model), pp)}; {need}"
        )
    spans = f"TP {tp} x PP {pp}: {options.nodes} nodes x {server.npu_count} NPUs, one rank per NPU"
    spans += ", expert parallel" if uses_expert_parallel(model) else ""
    fewest = _servers_needed(sizing, server, by_pp=pp > 1)
    if fewest is not None and fewest < options.nodes:
        spans += f"; {fewest} servers would hold {_holds(_useful_len(model))} with this layout"
    return tp, spans


def _cluster_warnings(sizing: Sizing, server: ServerProfile) -> list[str]:
    """`sizing` is the model as the catalog serves it (a layout may drop expert parallel across servers)."""
    needed = sizing.npus_needed()
    if needed is not None and needed <= server.npu_count:
        return [
            f"{sizing.model.name} fits on one {server.name} ({needed} x {sizing.npu.name}): run an independent "
            f"replica on each server instead (ascendgen plan {sizing.model.name} on each); {CROSS_NODE_COST}"
        ]
    return []


def _servers_needed(sizing: Sizing, server: ServerProfile, *, by_pp: bool = False) -> int | None:
    """The fewest servers like `server` (two or more) on which the model holds the weights and a useful KV
    cache: every NPU one rank, TP over all of them (or, `by_pp`, TP within a server and one PP stage each)."""
    count, wanted = server.npu_count, _useful_len(sizing.model)
    for servers in range(2, MAX_PLANNED_TP // count + 1):
        tp, pp = (count, servers) if by_pp else (servers * count, 1)
        if tp_is_valid(sizing.model, tp) and pp <= sizing.model.num_layers and sizing.capacity(tp, pp) >= wanted:
            return servers
    return None


def _node_flags(servers: int) -> str:
    flags = "--node ADDR:IF " * servers if servers <= 4 else f"--node ADDR:IF (x {servers}) "
    return f"{flags.strip()}, one per server, the first the Ray head"


def _remedy(sizing: Sizing, server: ServerProfile, flag: str | None = None) -> str:
    """What to do when the model does not fit: the NPUs it needs and how to give them (`flag`, --tp or --npus,
    when the user fixed the count; servers with --node), and a quantized build of it that needs fewer."""
    npu = sizing.npu.name
    needed = sizing.npus_needed()
    if needed is not None and needed <= server.npu_count and flag is not None:
        how = f"--tp {needed}" if flag == "--tp" else f"list {needed} NPUs with --npus (e.g. --npus 0-{needed - 1})"
        remedy = f"it needs {needed} x {npu}: {how}, or leave {flag} out"
    elif needed is not None and needed <= server.npu_count:
        remedy = f"it needs {needed} x {npu}"
    else:
        servers = _servers_needed(sizing, server)
        if servers is None:
            remedy = f"it does not fit on {MAX_PLANNED_TP} x {npu}"
        else:
            total = servers * server.npu_count
            remedy = f"it needs {servers} servers like this one ({total} x {npu}): {_node_flags(servers)}"
    return remedy + _quantized_hint(sizing, server, needed)


def _quantized_hint(sizing: Sizing, server: ServerProfile, needed: int | None) -> str:
    hints = []
    for build in sizing.quantized:
        other = Sizing(build, sizing.npu, sizing.platform, sizing.util, sizing.image_tag)
        count = other.npus_needed()
        if count is None or (needed is not None and count >= needed):
            continue
        kind = (build.quantization or "").upper()
        if count <= server.npu_count:
            hints.append(f"the {kind} build {build.name} fits on {count} x {sizing.npu.name} of this server")
            continue
        servers = _servers_needed(other, server)
        where = f" ({servers} servers)" if servers is not None else ""
        hints.append(f"the {kind} build {build.name} needs {count} x {sizing.npu.name}{where}")
    return "".join(f"; or {hint}" for hint in hints)


def _require_fit(sizing: Sizing, tp: int, server: ServerProfile, where: str, flag: str | None = None) -> None:
    """Refuse a TP at which the weights (plus reserves) leave no room for even one KV block. `where` names
    the NPUs (the server's, or those `flag` fixed)."""
    if sizing.capacity(tp) >= BLOCK_TOKENS:
        return
    why = _why_short(sizing, tp, _useful_len(sizing.model))
    raise PlanError(f"{sizing.model.name} does not fit on {where}: at TP {tp} {why}; {_remedy(sizing, server, flag)}")


def check_gateway_name(name: str) -> None:
    """A served name a gateway's config can carry as it is: LiteLLM would read one starting with
    `os.environ/` as an environment variable."""
    if name.startswith(LITELLM_ENV_PREFIX):
        raise PlanError(
            f"served name {name!r} starts with '{LITELLM_ENV_PREFIX}', which LiteLLM reads as an environment variable; "
            "choose another --served-name"
        )


def quantized_builds(model: ModelSpec, models: tuple[ModelSpec, ...]) -> tuple[ModelSpec, ...]:
    """The catalog's quantized builds of an unquantized model: the same architecture and shape, in a hub
    repository named after the model's (vllm-ascend/DeepSeek-R1-W8A8 for deepseek-ai/DeepSeek-R1)."""
    if model.quantization is not None:
        return ()
    repo = _repository(model.hub_id) + "-"
    return tuple(
        m
        for m in models
        if m.quantization is not None
        and _repository(m.hub_id).startswith(repo)
        and (m.architecture, m.num_layers, m.hidden_size) == (model.architecture, model.num_layers, model.hidden_size)
    )


def _repository(hub_id: str) -> str:
    """The repository part of a hub id, lower case: `qwen3-8b` for Qwen/Qwen3-8B (a user catalog may give a
    hub id without an organisation: the id itself)."""
    return (hub_id.partition("/")[2] or hub_id).lower()


def kv_cache_kept_back(capacity: int, margin: KvCacheMargin) -> int:
    """KV cache tokens held back when max-model-len is set from the capacity: `margin.percent` of it, rounded up to
    whole blocks, leaving at least one block."""
    blocks = math.ceil(capacity * margin.percent / 100 / BLOCK_TOKENS)
    return min(blocks * BLOCK_TOKENS, max(0, capacity - BLOCK_TOKENS))


def _holds_context(capacity: int, context: int, margin: KvCacheMargin) -> bool:
    """The full context fits in the KV cache with the margin kept back."""
    return capacity - kv_cache_kept_back(capacity, margin) >= context


def _margin_note(margin: KvCacheMargin) -> str:
    worst = margin.worst_overestimate_percent
    if worst > 0:
        return f"the worst over-estimate in published logs was {worst:g}%"
    return (
        f"no published log showed an over-estimate (the closest was {-worst:g}% under); {margin.percent:g}% is kept "
        "for the models and versions no log covers"
    )


def _choose_max_model_len(
    model: ModelSpec, tp: int, capacity: int, requested: int | None, margin: KvCacheMargin
) -> tuple[int, str, int]:
    """max-model-len, why, and the KV cache tokens kept back as margin. The margin applies when max-model-len comes
    from the capacity, and decides whether the full context fits: the planner's capacity can be above what vLLM
    measures, and vLLM refuses a max-model-len above the real one."""
    context = model.max_position_embeddings
    if requested is not None:
        if requested < 1:
            raise PlanError(f"--max-model-len {requested} must be a positive number of tokens")
        if requested > capacity:
            raise PlanError(
                f"--max-model-len {requested} does not fit: the KV cache holds {capacity} tokens on TP {tp}; "
                f"use --max-model-len {capacity} or less, or more NPUs"
            )
        return requested, "set with --max-model-len", 0
    if _holds_context(capacity, context, margin):
        return context, "the model's context (max_position_embeddings)", 0
    kept = kv_cache_kept_back(capacity, margin)
    return (
        capacity - kept,
        f"the KV cache capacity at TP {tp}, below the model's context of {context:,}: {capacity:,} tokens of KV cache "
        f"planned, {kept:,} kept back as margin ({_margin_note(margin)})",
        kept,
    )


def _serve_args(
    model: ModelSpec,
    image: ImageChoice,
    tp: int,
    dp: int,
    port: int,
    max_len: int,
    util: float,
    model_path: str,
    options: PlanOptions,
    *,
    dtype: str | None = None,
) -> tuple[str, ...]:
    args = [model_path, "--served-model-name", model.served_model_name]
    if options.nodes > 1 and not options.fill:  # multi-node data parallel starts without Ray
        args += ["--distributed-executor-backend", "ray"]
    if options.pp > 1:
        args += ["--pipeline-parallel-size", str(options.pp)]
    if tp > 1:
        args += ["--tensor-parallel-size", str(tp)]
    if dp > 1:  # every vLLM in images.yaml (>= 0.9.1) parses it (vllm/engine/arg_utils.py, since <= 0.8.5)
        args += [DP_FLAG, str(dp)]
    if options.host is not None:
        args += ["--host", options.host]
    args += ["--port", str(port), "--max-model-len", str(max_len)]
    if util != image.spec.gpu_memory_utilization_default:
        args += ["--gpu-memory-utilization", f"{util:g}"]
    if dtype is not None and not any(f.split("=", 1)[0] == "--dtype" for f in model.serve_flags):
        args += ["--dtype", dtype]
    args += _pooling_args(model, image)
    for flag in model.serve_flags:
        if flag == EP_FLAG:
            flag = image.spec.flags.expert_parallel
        args += flag.split("=", 1) if "=" in flag else [flag]
    return tuple(args)


def _pooling_args(model: ModelSpec, image: ImageChoice) -> list[str]:
    """How the image's vLLM serves a pooling model (images.yaml flags.pooling_runner): `--runner pooling`
    from vLLM 0.10.1 (it converts a *ForCausalLM embedding checkpoint and keeps a *ForSequenceClassification
    reranker for scoring), `--task embed` / `--task score` before."""
    if model.task == "generate":
        return []
    if image.spec.flags.pooling_runner:
        return ["--runner", "pooling"]
    return ["--task", "embed" if model.task == "embed" else "score"]


def _warnings(
    sizing: Sizing,
    image: ImageChoice,
    server: ServerProfile,
    memory: MemoryPerNpu,
    tp: int,
    pp: int,
    capacity: int,
    max_len: int,
    requested: bool,
) -> list[str]:
    model, npu = sizing.model, sizing.npu
    warnings = []
    if image.note:
        warnings.append(image.note)
    if model.min_image and tag_key(image.version_tag) < tag_key(model.min_image):
        needs = f" (transformers >= {model.min_transformers})" if model.min_transformers else ""
        warnings.append(
            f"{model.name} needs image {model.min_image} or newer{needs}; {image.version_tag} will not load it"
        )
    recorded = model.npus.get(npu.name)
    needed = sizing.npus_needed()
    if recorded is not None and needed is not None and recorded != needed:
        warnings.append(
            f"the catalog records {recorded} x {npu.name} for {model.name}, the planner's minimum is {needed}"
        )
    context = model.max_position_embeddings
    if max_len < context and requested:
        warnings.append(
            f"max-model-len {max_len:,} (set with --max-model-len) is below {model.name}'s context of {context:,}"
        )
    elif max_len < context:
        warnings.append(
            f"max-model-len {max_len:,} is below {model.name}'s context of {context:,}: the KV cache holds only "
            f"{capacity:,} tokens at TP {tp}{_full_context_hint(sizing, server, tp, pp)}"
        )
    headroom = memory.visible_gib * (1 - sizing.util)
    if headroom < GRAPH_HEADROOM_GIB:
        warnings.append(
            f"gpu-memory-utilization {sizing.util} leaves {headroom:.2f} GiB outside vLLM's budget; graph capture "
            f"needs up to ~{GRAPH_HEADROOM_GIB:g} GiB there, so NPU out-of-memory is likely"
        )
    if capacity < 2 * max_len and sizing.dp > 1:
        warnings.append(
            f"each data-parallel rank's KV cache ({capacity:,} tokens) holds {capacity / max_len:.2f} requests of "
            f"{max_len:,} tokens at once ({capacity / max_len * sizing.dp:.2f} in all {sizing.dp} ranks); more long "
            "requests queue"
        )
    elif capacity < 2 * max_len:
        warnings.append(
            f"the KV cache ({capacity:,} tokens) holds {capacity / max_len:.2f} requests of {max_len:,} tokens at "
            "once; more long requests queue"
        )
    return warnings


def _full_context_hint(sizing: Sizing, server: ServerProfile, tp: int, pp: int) -> str:
    """On one server: the TP that would serve the model's full context, if any (with data parallel: at the same
    number of ranks)."""
    dp = sizing.dp
    if pp > 1 or tp * dp > server.npu_count:  # across servers: the layout fixed TP
        return ""
    context = sizing.model.max_position_embeddings
    larger = [t for t in valid_tp_sizes(sizing.model, server.npu_count) if t > tp and t * dp <= server.npu_count]
    margin = sizing.platform.kv_cache_margin
    full = next((t for t in larger if _holds_context(sizing.capacity(t), context, margin)), None)
    if full is None:
        ranks = f" with {dp} data-parallel ranks" if dp > 1 else ""
        return f"; no TP on {server.name} holds the full context{ranks}"
    if dp > 1:
        return f"; TP {full} x DP {dp} ({full * dp} NPUs) would hold the full context"
    return f"; TP {full} ({full} NPUs) would hold the full context"
