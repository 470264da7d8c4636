"""Planner arithmetic, derived by hand. The hardware constants are spelled out here (not read from
hardware.yaml) so each expected number can be recomputed with a pencil:

    910B4: 29.49 GiB visible to torch_npu; reserves: activation 1.0 GiB, runtime 0.5 GiB + 0.25 GiB per
    HCCL group (TP group; MoE with expert parallel adds the EP group); KV block 128 tokens; 1 GiB = 2**30 B.

Model numbers come from the catalog (each checked against the model's config.json)."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

from ascendgen.catalog import ModelSpec, load_catalog
from ascendgen.envfile import EnvRef
from ascendgen.errors import PlanError
from ascendgen.hardware import KvCacheMargin, MemoryReserves, NpuType, Platform, ServerProfile
from ascendgen.images import ImageChoice, ImageFlags, ImageSpec, tag_key
from ascendgen.planner import (
    CROSS_NODE_COST,
    GIB,
    PlanOptions,
    _reserve,
    kv_bytes_per_token,
    kv_cache_kept_back,
    kv_capacity_tokens,
    memory_per_npu,
    npus_needed,
    plan_deployment,
    quantized_builds,
    routed_expert_params,
    tp_is_valid,
    valid_tp_sizes,
    weights_gib,
)
from ascendgen.records import dump, validate

A2 = Platform(
    name="a2",
    dtypes=("bfloat16", "float16"),
    control_devices=("/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm"),
    npu_device="/dev/davinci{index}",
    driver_mounts=("/usr/local/dcmi",),
    kv_budget_factor=1.0,
    memory_reserves=(
        MemoryReserves(since="v0.9.1", activation_gib=1.0, vision_extra_gib=1.5, runtime_gib=0.5, hccl_gib=0.25),
    ),
    kv_cache_margin=KvCacheMargin(percent=1.0, worst_overestimate_percent=0.5, source="test"),
)
P310 = replace(A2, name="310p", dtypes=("float16",), kv_budget_factor=0.5, kv_budget_factor_since="v0.18.0rc1")
B4 = NpuType(name="910B4", memory_gib=32, visible_gib=29.49, platform="a2")
SERVER = ServerProfile(name="atlas-800i-a2", npu_type="910B4", npu_count=8)
IMAGE = ImageChoice(
    reference="quay.io/ascend/vllm-ascend:v0.9.2rc1",
    spec=ImageSpec(tag="v0.9.2rc1", vllm="0.9.2", gpu_memory_utilization_default=0.9, source="test"),
)


def model(name: str) -> ModelSpec:
    return load_catalog().get(name)


def plan(name: str, **options: object):  # type: ignore[no-untyped-def]
    return plan_deployment(
        model(name),
        npu=B4,
        platform=A2,
        server=SERVER,
        image=IMAGE,
        options=PlanOptions(**options),  # type: ignore[arg-type]
    )


def test_qwen3_8b_on_one_910b4() -> None:
    # weights: 8.2e9 params x 2 B = 16.4e9 B = 16.4e9 / 2**30 = 15.2737 GiB, all on one NPU
    # usable: 29.49 x 0.9 = 26.541 GiB
    # KV cache: 26.541 - 15.2737 - 1.0 (activation) - 0.5 (runtime, no HCCL at TP 1) = 9.7673 GiB
    # KV per token: 2 (K,V) x 36 layers x 8 KV heads x 128 head_dim x 2 B = 147,456 B
    # tokens: 9.7673 GiB = 10,487,577,... B / (147,456 x 128) = 555.67 -> 555 blocks -> 71,040 tokens
    # max-model-len: min(40,960 context, 71,040) = 40,960; concurrency 71,040 / 40,960 = 1.73
    p = plan("Qwen3-8B")
    assert p.tensor_parallel_size == 1 and p.npus == (0,)
    assert p.memory.weights_gib == pytest.approx(15.2737, abs=1e-4)
    assert p.memory.usable_gib == pytest.approx(26.541)
    assert p.memory.kv_cache_gib == pytest.approx(9.7673, abs=1e-4)
    assert p.kv_bytes_per_token == 147_456
    assert p.kv_cache_tokens == 71_040
    assert p.max_model_len == 40_960
    assert p.max_concurrency == 1.73


def test_qwen3_30b_a3b_needs_four_910b4() -> None:
    # weights: 30.5e9 x 2 B = 61.0e9 B = 56.8107 GiB
    # TP 1: 56.81 > 26.541 usable; TP 2: 28.41 > 26.541: weights alone do not fit
    # TP 4: 14.2027 GiB weights; runtime 0.5 + 2 groups (TP, EP) x 0.25 = 1.0
    #       KV = 26.541 - 14.2027 - 1.0 - 1.0 = 10.3383 GiB
    # KV per token: 2 x 48 layers x (4 KV heads / TP 4 = 1) x 128 x 2 B = 24,576 B
    # tokens: 10.3383 x 2**30 / (24,576 x 128) = 3,528.8 -> 3,528 blocks -> 451,584 tokens
    p = plan("Qwen3-30B-A3B")
    assert p.tensor_parallel_size == 4 and p.npus == (0, 1, 2, 3)
    assert p.memory.weights_gib == pytest.approx(14.2027, abs=1e-4)
    assert p.memory.runtime_gib == pytest.approx(1.0)
    assert p.memory.kv_cache_gib == pytest.approx(10.3383, abs=1e-4)
    assert p.kv_bytes_per_token == 24_576
    assert p.kv_cache_tokens == 451_584
    assert p.max_model_len == 40_960
    assert "--enable-expert-parallel" in p.serve_args
    # the reason names what TP 2 lacks: 56.8107 / 2 = 28.4054 GiB of weights > 26.541 usable
    assert p.tp_reason == (
        "the smallest valid TP (1, 2, 4, 8 divide the heads) that holds the weights and 8,192 tokens of KV cache; "
        "at TP 2 the weights take 28.4 GiB per NPU, more than the 26.5 GiB usable (29.49 GiB x 0.9)"
    )


def test_deepseek_v3_pruning_mla_latent_is_not_split_by_tp() -> None:
    # MLA: one latent per layer: 2 layers x (512 kv_lora_rank + 64 rope) x 2 B = 2,304 B per token, at any TP
    # weights at TP 8 (the seed's): 3.02e9 x 2 B = 5.6252 GiB / 8 = 0.70315 GiB
    # runtime 0.5 + 2 x 0.25 = 1.0; KV = 26.541 - 0.70315 - 1.0 - 1.0 = 23.83785 GiB
    # tokens: 23.83785 x 2**30 / (2,304 x 128) = 86,790.4 -> 86,790 blocks -> 11,109,120 tokens
    # max-model-len = min(163,840 context, 11.1 M) = 163,840
    p = plan("DeepSeek-V3-Pruning", tp=8)
    assert kv_bytes_per_token(p.model, 1) == kv_bytes_per_token(p.model, 8) == 2_304
    assert p.memory.weights_gib == pytest.approx(0.70315, abs=1e-4)
    assert p.memory.kv_cache_gib == pytest.approx(23.83785, abs=1e-4)
    assert p.kv_cache_tokens == 11_109_120
    assert p.max_model_len == 163_840
    assert {"--enable-expert-parallel", "--enforce-eager"} <= set(p.serve_args)


def test_qwen2_5_7b_heads_allow_tp_1_2_4_not_8() -> None:
    # 28 attention heads: 28 % 8 = 4 -> TP 8 invalid; 4 KV heads split by 1, 2, 4
    m = model("Qwen2.5-7B-Instruct")
    assert valid_tp_sizes(m, 8) == (1, 2, 4)
    with pytest.raises(PlanError, match=r"--tp 8 does not divide .* 28 attention heads .* valid sizes: 1, 2, 4"):
        plan("Qwen2.5-7B-Instruct", tp=8)


def test_kv_heads_replicate_when_fewer_than_tp() -> None:
    # Qwen3-30B-A3B has 4 KV heads: at TP 8 each rank keeps one (replicated, 8 % 4 == 0)
    m = model("Qwen3-30B-A3B")
    assert tp_is_valid(m, 8)
    assert kv_bytes_per_token(m, 8) == 2 * 48 * 1 * 128 * 2
    # at TP 2 each rank holds 2 of the 4: 2 x 48 x 2 x 128 x 2 = 49,152 B
    assert kv_bytes_per_token(m, 2) == 49_152


def test_tp_that_does_not_split_kv_heads_is_invalid() -> None:
    # a made-up model with 24 heads and 3 KV heads: TP 2 divides 24 but not 3, and 2 % 3 != 0
    m = replace(model("Qwen3-8B"), num_attention_heads=24, num_key_value_heads=3)
    assert not tp_is_valid(m, 2)
    assert tp_is_valid(m, 1)


def test_max_model_len_honoured_at_or_below_capacity_refused_above() -> None:
    # Qwen3-8B holds 71,040 tokens at TP 1 (test above); 40,960 is its context
    assert plan("Qwen3-8B", max_model_len=32_768).max_model_len == 32_768
    with pytest.raises(PlanError, match="above Qwen3-8B's context of 40960"):
        plan("Qwen3-8B", max_model_len=65_536)


def test_kv_capacity_bounds_max_model_len() -> None:
    # Qwen2.5-VL-32B-Instruct: 33.5e9 x 2 B = 62.3986 GiB; TP 4: 15.5996 GiB per NPU
    # activation 1.0 + 1.5 (vision encoder) = 2.5; runtime 0.5 + 0.25 (TP group) = 0.75
    # KV = 26.541 - 15.5996 - 2.5 - 0.75 = 7.6914 GiB
    # KV per token: 2 x 64 layers x (8 / 4 = 2) x 128 x 2 B = 65,536 B
    # tokens: 7.6914 x 2**30 / (65,536 x 128) = 984.5 -> 984 blocks -> 125,952 tokens < 128,000 context
    # margin (A2's 1%): 1% of 125,952 = 1,259.52 tokens -> 10 blocks = 1,280 kept back -> max-model-len 124,672
    p = plan("Qwen2.5-VL-32B-Instruct")
    assert p.tensor_parallel_size == 4
    assert p.memory.activation_gib == pytest.approx(2.5)
    assert p.kv_bytes_per_token == 65_536
    assert p.kv_cache_tokens == 125_952
    assert p.kv_cache_margin_tokens == 1_280
    assert p.max_model_len == 124_672
    assert p.max_model_len_reason == (
        "the KV cache capacity at TP 4, below the model's context of 128,000: 125,952 tokens of KV cache planned, "
        "1,280 kept back as margin (the worst over-estimate in published logs was 0.5%)"
    )
    assert (p.to_json()["kv_cache_margin"], p.to_json()["kv_cache_margin_percent"]) == (1_280, 1.0)
    assert p.max_concurrency == round(125_952 / 124_672, 2)
    # a max-model-len the user gives keeps no margin: up to the planned capacity is accepted
    asked = plan("Qwen2.5-VL-32B-Instruct", tp=4, max_model_len=125_952)
    assert (asked.max_model_len, asked.kv_cache_margin_tokens) == (125_952, 0)
    with pytest.raises(PlanError, match="--max-model-len 128000 does not fit: the KV cache holds 125952 tokens"):
        plan("Qwen2.5-VL-32B-Instruct", tp=4, max_model_len=128_000)


def test_the_margin_also_decides_whether_the_full_context_fits() -> None:
    # Qwen3-8B on one 910B4 holds 71,040 tokens (test_qwen3_8b_on_one_910b4). A context of 70,912 (one block less)
    # fits the planned KV cache but not with the margin: 1% of 71,040 = 710.4 tokens -> 6 blocks = 768 kept back,
    # 71,040 - 768 = 70,272 < 70,912, so max-model-len is 70,272
    near = replace(model("Qwen3-8B"), max_position_embeddings=70_912)
    p = plan_deployment(near, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert (p.kv_cache_tokens, p.kv_cache_margin_tokens, p.max_model_len) == (71_040, 768, 70_272)
    assert p.max_model_len_reason == (
        "the KV cache capacity at TP 1, below the model's context of 70,912: 71,040 tokens of KV cache planned, "
        "768 kept back as margin (the worst over-estimate in published logs was 0.5%)"
    )
    assert p.to_json()["max_model_len"] == 70_272 and p.to_json()["kv_cache_margin"] == 768
    # a 2% margin over logs that showed no over-estimate: 1,420.8 tokens -> 12 blocks = 1,536 kept, 69,504
    wider = replace(A2, kv_cache_margin=KvCacheMargin(percent=2.0, worst_overestimate_percent=-0.3, source="test"))
    p2 = plan_deployment(near, npu=B4, platform=wider, server=SERVER, image=IMAGE, options=PlanOptions())
    assert (p2.kv_cache_margin_tokens, p2.max_model_len) == (1_536, 69_504)
    assert p2.max_model_len_reason.endswith(
        "1,536 kept back as margin (no published log showed an over-estimate (the closest was 0.3% under); 2% is "
        "kept for the models and versions no log covers)"
    )
    # no margin: the context fits as planned; and Qwen3-8B's own 40,960 fits with the margin, none kept
    none = replace(A2, kv_cache_margin=KvCacheMargin(percent=0.0, worst_overestimate_percent=-0.3, source="test"))
    p0 = plan_deployment(near, npu=B4, platform=none, server=SERVER, image=IMAGE, options=PlanOptions())
    assert (p0.max_model_len, p0.kv_cache_margin_tokens) == (70_912, 0)
    assert (plan("Qwen3-8B").max_model_len, plan("Qwen3-8B").kv_cache_margin_tokens) == (40_960, 0)


def test_kv_cache_kept_back_rounds_up_to_blocks_and_leaves_one() -> None:
    one = KvCacheMargin(percent=1.0, worst_overestimate_percent=0.0, source="test")
    assert kv_cache_kept_back(12_800, one) == 128  # 128.0 tokens: one block
    assert kv_cache_kept_back(12_928, one) == 256  # 129.28 tokens: two blocks
    assert kv_cache_kept_back(256, one) == 128  # 2.56 tokens round up to a block; one block is left
    assert kv_cache_kept_back(128, one) == 0  # a single block: nothing can be kept back


def test_the_reserves_follow_the_image_version() -> None:
    # images up to v0.14 count all non-torch memory (1.0 activation, 0.5 runtime), from v0.15.0rc1 only what the
    # profiling run adds (0.5, 0.3); HCCL 0.25 per group both. Qwen3-30B-A3B at TP 4 with EP joins 2 groups.
    two = replace(
        A2,
        memory_reserves=(
            MemoryReserves(since="v0.9.1", activation_gib=1.0, vision_extra_gib=1.5, runtime_gib=0.5, hccl_gib=0.25),
            MemoryReserves(
                since="v0.15.0rc1", activation_gib=0.5, vision_extra_gib=3.1, runtime_gib=0.3, hccl_gib=0.25
            ),
        ),
    )
    moe = model("Qwen3-30B-A3B")
    old = memory_per_npu(moe, B4, two, 4, 0.9, "v0.14.0rc1")
    new = memory_per_npu(moe, B4, two, 4, 0.9, "v0.15.0rc1")
    older = memory_per_npu(moe, B4, two, 4, 0.9, "v0.7.3")  # before the first entry: the first applies
    assert (old.activation_gib, old.runtime_gib) == (1.0, 1.0)
    assert (new.activation_gib, new.runtime_gib) == (0.5, 0.8)
    assert (older.activation_gib, older.runtime_gib) == (1.0, 1.0)
    # KV: 26.541 - 14.2027 - 0.5 - 0.8 = 11.0383 GiB from v0.15.0rc1 (10.3383 before, test_qwen3_30b_a3b_...)
    assert new.kv_cache_gib == pytest.approx(11.0383, abs=1e-4)
    vision = memory_per_npu(model("Qwen3-VL-8B-Instruct"), B4, two, 1, 0.9, "v0.20.2rc1")
    assert vision.activation_gib == pytest.approx(3.6)


def test_a_moe_model_takes_the_moe_extra_of_its_image_a_dense_one_does_not() -> None:
    # images up to v0.14 profile MoE layers with more than the dense reserves (bench/observations.yaml
    # vllm-ascend-6250); moe_extra_gib is added to the activation of kind: moe models only, per image version
    two = replace(
        A2,
        memory_reserves=(
            MemoryReserves(since="v0.9.1", activation_gib=1.0, moe_extra_gib=0.8, runtime_gib=0.5, hccl_gib=0.25),
            MemoryReserves(since="v0.15.0rc1", activation_gib=0.5, runtime_gib=0.3, hccl_gib=0.25),
        ),
    )
    moe, dense = model("Qwen3-30B-A3B"), model("Qwen3-32B")
    assert memory_per_npu(moe, B4, two, 4, 0.9, "v0.11.0").activation_gib == pytest.approx(1.8)
    assert memory_per_npu(dense, B4, two, 4, 0.9, "v0.11.0").activation_gib == pytest.approx(1.0)
    assert memory_per_npu(moe, B4, two, 4, 0.9, "v0.18.0").activation_gib == pytest.approx(0.5)
    # KV of Qwen3-30B-A3B at TP 4 on v0.11.0: 26.541 - 14.2027 - 1.8 - 1.0 = 9.5383 GiB
    # 9.5383 x 2**30 / (24,576 x 128) = 3,255.8 -> 3,255 blocks -> 416,640 tokens (examples/qwen3-30b-a3b)
    memory = memory_per_npu(moe, B4, two, 4, 0.9, "v0.11.0")
    assert memory.kv_cache_gib == pytest.approx(9.5383, abs=1e-4)
    assert kv_capacity_tokens(memory, kv_bytes_per_token(moe, 4)) == 416_640


def test_weights_that_do_not_fit_name_the_npus_needed() -> None:
    # Qwen2.5-72B-Instruct: 72.7e9 x 2 B = 135.41 GiB; TP 4: 33.85 > 26.54; TP 8: 16.93 fits
    with pytest.raises(PlanError) as refused:
        plan("Qwen2.5-72B-Instruct", npus=(0, 1, 2, 3))
    assert str(refused.value) == (
        "Qwen2.5-72B-Instruct does not fit on the 4 NPUs given with --npus 0-3: at TP 4 the weights take 33.9 GiB "
        "per NPU, more than the 26.5 GiB usable (29.49 GiB x 0.9); it needs 8 x 910B4: list 8 NPUs with --npus "
        "(e.g. --npus 0-7), or leave --npus out"
    )


def test_w8a8_keeps_embeddings_in_bf16() -> None:
    # DeepSeek-V3-W8A8: embeddings + lm_head = 2 x 129,280 x 7,168 = 1,853,358,080 params in bf16 (2 B),
    # the other 671e9 - 1.853e9 = 669,146,641,920 params in int8 (1 B)
    # bytes: 669,146,641,920 + 3,706,716,160 = 672,853,358,080 B = 626.64 GiB
    assert weights_gib(model("DeepSeek-V3-W8A8")) == pytest.approx(672_853_358_080 / GIB)


def test_310p_halves_the_kv_budget_only_from_v0_18() -> None:
    m = replace(model("Qwen3-8B"), dtype="float16")
    p310 = NpuType(name="310P3", memory_gib=43.24, visible_gib=43.24, platform="310p")
    old = memory_per_npu(m, p310, P310, 1, 0.9, "v0.9.2rc1")
    new = memory_per_npu(m, p310, P310, 1, 0.9, "v0.18.0rc1")
    # 43.24 x 0.9 - 15.2737 - 1.0 - 0.5 = 22.1423 GiB; halved from v0.18.0rc1: 11.0712
    assert old.kv_cache_gib == pytest.approx(22.1423, abs=1e-4)
    assert new.kv_cache_gib == pytest.approx(11.0712, abs=1e-4)


P310_NPU = NpuType(name="310P3", memory_gib=43.24, visible_gib=43.24, platform="310p")
DUO = ServerProfile(name="atlas-300i-duo", npu_type="310P3", npu_count=2)


def test_bf16_model_on_310p_is_served_as_float16() -> None:
    # The 310P runs float16 (hardware.yaml serve_dtype); vLLM casts the bf16 weights as it loads them, 2 bytes each
    # either way, so the numbers are the bf16 model's: 43.24 x 0.9 - 15.2737 weights - 1.0 - 0.5 = 22.1423 GiB of
    # KV cache (v0.9.2rc1: not yet halved); 22.1423 GiB / (147,456 B x 128) = 1259.65 -> 1,259 blocks = 161,152 tokens
    p310 = replace(P310, serve_dtype="float16")
    p = plan_deployment(model("Qwen3-8B"), npu=P310_NPU, platform=p310, server=DUO, image=IMAGE, options=PlanOptions())
    assert p.memory.kv_cache_gib == pytest.approx(22.1423, abs=1e-4) and p.kv_cache_tokens == 161_152
    args = list(p.serve_args)
    assert args[args.index("--dtype") + 1] == "float16" and args.count("--dtype") == 1
    assert not any(arg.startswith("--kv-cache-mem") for arg in args)
    assert any(w.startswith("Qwen3-8B is a bfloat16 checkpoint and 310P3 runs float16: served with --dtype float16")
               for w in p.warnings)  # fmt: skip
    fp16 = replace(model("Qwen3-8B"), dtype="float16")  # already float16: no flag, no warning
    same = plan_deployment(fp16, npu=P310_NPU, platform=p310, server=DUO, image=IMAGE, options=PlanOptions())
    assert "--dtype" not in same.serve_args and not any("checkpoint" in w for w in same.warnings)
    assert same.kv_cache_tokens == p.kv_cache_tokens
    on_a2 = plan("Qwen3-8B")  # bfloat16 runs on the A2 as it is
    assert "--dtype" not in on_a2.serve_args


def test_a_catalogs_own_dtype_flag_is_not_doubled() -> None:
    p310 = replace(P310, serve_dtype="float16")
    mine = replace(model("Qwen3-8B"), serve_flags=("--dtype=half",))
    p = plan_deployment(mine, npu=P310_NPU, platform=p310, server=DUO, image=IMAGE, options=PlanOptions())
    assert [a for a in p.serve_args if a.startswith("--dtype")] == ["--dtype"]
    assert p.serve_args[p.serve_args.index("--dtype") + 1] == "half"


def test_bf16_model_on_a_float16_platform_without_serve_dtype_is_refused() -> None:
    with pytest.raises(
        PlanError, match=re.escape("bfloat16, which 310P3 (310p) does not run; it needs a float16 build")
    ):
        plan_deployment(model("Qwen3-8B"), npu=P310_NPU, platform=P310, server=DUO, image=IMAGE, options=PlanOptions())


def test_the_shipped_310p_platform_serves_bf16_as_float16_and_never_honours_kv_cache_memory_bytes() -> None:
    from ascendgen.hardware import load_hardware

    hardware = load_hardware()
    p310 = hardware.platform("310p")
    assert p310.dtypes == ("float16",) and p310.serve_dtype == "float16"
    assert p310.honours_kv_cache_memory_bytes is False
    assert all(p.honours_kv_cache_memory_bytes for p in hardware.platforms if p.name != "310p")


def test_kv_cache_memory_bytes_is_honoured_only_by_a2_a3_workers_from_v0_19_1rc1() -> None:
    from ascendgen.images import load_images
    from ascendgen.planner import kv_cache_memory_honoured

    images = {i.tag: i for i in load_images()}
    p310 = replace(P310, honours_kv_cache_memory_bytes=False)
    for tag, spec in images.items():
        choice = ImageChoice(reference=f"x:{tag}", spec=spec)
        assert kv_cache_memory_honoured(choice, p310) is False, tag
        assert kv_cache_memory_honoured(choice, A2) is (tag_key(tag) >= tag_key("v0.19.1rc1")), tag


@pytest.mark.parametrize("flag", ["--kv-cache-memory-bytes=8000000000", "--kv-cache-memory=8000000000"])
def test_a_catalog_kv_cache_memory_flag_is_refused_where_it_is_ignored(flag: str) -> None:
    from ascendgen.images import load_images

    newest = next(i for i in load_images() if i.tag == "v0.23.0.post1")
    image = ImageChoice(reference="quay.io/ascend/vllm-ascend:v0.23.0.post1-310p", spec=newest)
    mine = replace(model("Qwen3-8B"), serve_flags=(flag,))
    p310 = replace(P310, serve_dtype="float16", honours_kv_cache_memory_bytes=False)
    with pytest.raises(PlanError) as on_310p:
        plan_deployment(mine, npu=P310_NPU, platform=p310, server=DUO, image=image, options=PlanOptions())
    assert str(on_310p.value) == (
        f"Qwen3-8B's serve flag {flag} is not honoured by the 310p worker (vllm_ascend/_310p/worker_310p.py ignores "
        "it): drop it from serve_flags; --gpu-memory-utilization sets the memory vLLM may use"
    )
    with pytest.raises(
        PlanError, match=re.escape("not honoured by image v0.9.2rc1 (vllm-ascend honours it from v0.19.1rc1)")
    ):
        plan_deployment(mine, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    on_a2 = plan_deployment(mine, npu=B4, platform=A2, server=SERVER, image=image, options=PlanOptions())
    assert flag.split("=")[0] in on_a2.serve_args  # honoured there: kept as the catalog wrote it


HF_OVERRIDES = (
    '{"architectures": ["Qwen3ForSequenceClassification"],"classifier_from_token": ["no", "yes"],'
    '"is_original_qwen3_reranker": true}'
)


@pytest.mark.parametrize(
    ("name", "pooling_runner", "flags"),
    [
        # vLLM >= 0.10.1 (images.yaml pooling_runner: true): one flag for embedders and rerankers alike
        ("Qwen3-Embedding-0.6B", True, ["--runner", "pooling"]),
        ("Qwen3-Reranker-0.6B", True, ["--runner", "pooling", "--hf-overrides", HF_OVERRIDES]),
        ("bge-reranker-v2-m3", True, ["--runner", "pooling"]),
        # vLLM <= 0.10.0: --task, "score" for a cross-encoder
        ("bge-m3", False, ["--task", "embed"]),
        ("Qwen3-Reranker-0.6B", False, ["--task", "score", "--hf-overrides", HF_OVERRIDES]),
        ("bge-reranker-v2-m3", False, ["--task", "score"]),
        # a chat model gets neither
        ("Qwen3-8B", True, []),
        ("Qwen3-8B", False, []),
    ],
)
def test_pooling_serve_flag_follows_the_images_vllm(name: str, pooling_runner: bool, flags: list[str]) -> None:
    spec = replace(IMAGE.spec, flags=ImageFlags(pooling_runner=pooling_runner))
    p = plan_deployment(
        model(name),
        npu=B4,
        platform=A2,
        server=SERVER,
        image=ImageChoice(reference=IMAGE.reference, spec=spec),
        options=PlanOptions(),
    )
    after_len = list(p.serve_args[p.serve_args.index("--max-model-len") + 2 :])
    assert after_len == flags


# The catalog's `npus` against arithmetic done by hand with the shipped hardware.yaml and the newest image's
# default utilization (images.yaml: 0.92): 910B4 29.49 GiB visible x 0.92 = 27.1308 GiB usable, 910B3 60.96 x 0.92
# = 56.0832; a2 reserves: activation 1.0, runtime 0.5 + 0.25 per HCCL group; the count is the smallest valid TP
# that holds the weights and 8,192 tokens of KV cache.
#   Qwen3-8B (8.2e9 x 2 B = 15.2737 GiB): 910B4 TP 1: 27.1308 - 15.2737 - 1.5 = 10.36 GiB of KV -> 1;
#     910B3 TP 1 -> 1
#   Qwen3-14B (14.8e9 x 2 B = 27.5671 GiB, 40 layers, 8 KV heads): 910B4 TP 1: 27.57 > 27.13, the weights alone do
#     not fit; TP 2: 13.7836 + 1.0 + 0.75 -> 11.60 GiB of KV >= 8,192 x 81,920 B (0.625 GiB) -> 2;
#     910B3 TP 1: 56.0832 - 27.5671 - 1.5 = 27.02 GiB -> 1
#   Qwen3-30B-A3B (30.5e9 x 2 B = 56.8107 GiB, expert parallel: TP and EP groups): 910B4 TP 2: 28.41 > 27.13;
#     TP 4: 14.2027 + 1.0 + 1.0 -> 10.93 GiB -> 4; 910B3 TP 1: 56.81 > 56.08; TP 2: 28.4054 + 2.0 -> 25.68 GiB -> 2
#   Qwen2.5-72B-Instruct (72.7e9 x 2 B = 135.415 GiB): 910B4 TP 4: 33.85 > 27.13; TP 8: 16.9269 + 1.75 -> 8.45 GiB
#     -> 8; 910B3 TP 2: 67.71 > 56.08; TP 4: 33.8537 + 1.75 -> 20.48 GiB -> 4
@pytest.mark.parametrize(
    ("name", "npu_name", "count"),
    [
        ("Qwen3-8B", "910B4", 1),
        ("Qwen3-8B", "910B3", 1),
        ("Qwen3-14B", "910B4", 2),
        ("Qwen3-14B", "910B3", 1),
        ("Qwen3-30B-A3B", "910B4", 4),
        ("Qwen3-30B-A3B", "910B3", 2),
        ("Qwen2.5-72B-Instruct", "910B4", 8),
        ("Qwen2.5-72B-Instruct", "910B3", 4),
    ],
)
def test_catalog_npu_counts_by_hand(name: str, npu_name: str, count: int) -> None:
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images
    from ascendgen.planner import npus_needed

    hardware, newest = load_hardware(), load_images()[-1]
    npu = hardware.npu_type(npu_name)
    assert (npu.visible_gib, newest.gpu_memory_utilization_default) == (
        {"910B4": 29.49, "910B3": 60.96}[npu_name],
        0.92,
    )
    assert model(name).npus[npu_name] == count
    assert npus_needed(model(name), npu, hardware.platform(npu.platform), 0.92, newest.tag) == count


# The GLM-4.5 / 4.6 / MiniMax-M2 entries' `npus` by hand, as above (expert parallel: TP and EP groups, runtime 0.5 +
# 0.5 from TP 2 on); KV per token at TP t: 2 x layers x max(1, 8 // t) x 128 x 2 B:
#   GLM-4.5 and GLM-4.6 (352.8e9 x 2 B = 657.14 GiB): 910B3 TP 8: 82.14 > 56.08; TP 16: 41.07 + 2.0 -> 13.01 GiB >=
#     8,192 x 47,104 B (0.36 GiB) -> 16; 910B4 TP 16: 41.07 > 27.13; TP 32: 20.54 + 2.0 -> 4.59 GiB -> 32
#   GLM-4.5-w8a8 and GLM-4.6-w8a8 ((352.8e9 - 1.5519e9) x 1 + 1.5519e9 x 2 = 354.3519e9 B = 330.02 GiB): 910B3 TP 4:
#     82.50 > 56.08; TP 8: 41.25 + 2.0 -> 12.83 GiB -> 8 (GLM4.x.md: the W8A8 build "can be deployed on ... 1 Atlas 800
#     A2 (64G x 8)"); 910B4 TP 8: 41.25 > 27.13; TP 16: 20.63 + 2.0 -> 4.50 GiB -> 16
#   GLM-4.5-Air (106.9e9 x 2 B = 199.12 GiB): 910B3 TP 2: 99.56 > 56.08; TP 4: 49.78 + 2.0 -> 4.30 GiB -> 4; 910B4
#     TP 4: 49.78 > 27.13; TP 8: 24.89 + 2.0 -> 0.2408 GiB = 85 blocks of 128 x 23,552 B = 10,880 tokens >= 8,192 -> 8
#   MiniMax-M2 (228.7e9 x 2 B = 425.99 GiB, 48 heads: TP 1, 2, 4, 8, 16): 910B3 TP 4: 106.50 > 56.08; TP 8: 53.25 +
#     2.0 -> 0.83 GiB >= 8,192 x 31,744 B (0.24 GiB) -> 8; 910B4 TP 16: 26.62 + 2.0 = 28.62 > 27.13: none, not recorded
@pytest.mark.parametrize(
    ("name", "npu_name", "count"),
    [
        ("GLM-4.5", "910B3", 16),
        ("GLM-4.5", "910B4", 32),
        ("GLM-4.6", "910B3", 16),
        ("GLM-4.6", "910B4", 32),
        ("GLM-4.5-w8a8", "910B3", 8),
        ("GLM-4.5-w8a8", "910B4", 16),
        ("GLM-4.6-w8a8", "910B3", 8),
        ("GLM-4.6-w8a8", "910B4", 16),
        ("GLM-4.5-Air", "910B3", 4),
        ("GLM-4.5-Air", "910B4", 8),
        ("MiniMax-M2", "910B3", 8),
        ("MiniMax-M2", "910B4", None),
    ],
)
def test_new_family_npu_counts_by_hand(name: str, npu_name: str, count: int | None) -> None:
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images

    hardware, newest = load_hardware(), load_images()[-1]
    npu = hardware.npu_type(npu_name)
    assert model(name).npus.get(npu_name) == count
    assert npus_needed(model(name), npu, hardware.platform(npu.platform), 0.92, newest.tag) == count


def test_catalog_npu_counts_are_tp_sizes_the_model_takes() -> None:
    """A data check the arithmetic above does not make for the other entries: every recorded count is a TP that
    divides the model's heads (a count of 3, or 12, could never start)."""
    wrong = [
        f"{m.name}: {n} x {npu}" for m in load_catalog().models for npu, n in m.npus.items() if not tp_is_valid(m, n)
    ]
    assert wrong == []


# ------------------------------------------------------------------------------- reasons and refusals
# The constants of the module docstring: 29.49 GiB visible x 0.9 = 26.541 GiB usable ("26.5" in messages).
B3 = NpuType(name="910B3", memory_gib=64, visible_gib=60.96, platform="a2")
SERVER_64G = ServerProfile(name="atlas-800t-a2", npu_type="910B3", npu_count=8)
SERVERS_LINE = "one per server, the first the Ray head"


def refusal(name: str, **options: object) -> str:
    with pytest.raises(PlanError) as refused:
        plan(name, **options)
    return str(refused.value)


def test_npus_given_says_how_many_were_given_and_how_many_it_needs() -> None:
    # Qwen3-30B-A3B: 56.8107 GiB of weights; --npus 0-1 -> TP 2: 28.4054 GiB per NPU > 26.541 usable;
    # the planner's minimum is TP 4 (test above). The server has 8 NPUs: the message must not say 2.
    message = refusal("Qwen3-30B-A3B", npus=(0, 1))
    assert message == (
        "Qwen3-30B-A3B does not fit on the 2 NPUs given with --npus 0-1: at TP 2 the weights take 28.4 GiB per NPU, "
        "more than the 26.5 GiB usable (29.49 GiB x 0.9); it needs 4 x 910B4: list 4 NPUs with --npus "
        "(e.g. --npus 0-3), or leave --npus out"
    )
    assert refusal("Qwen3-30B-A3B", tp=2) == (
        "Qwen3-30B-A3B does not fit on 2 x 910B4 (--tp 2): at TP 2 the weights take 28.4 GiB per NPU, more than "
        "the 26.5 GiB usable (29.49 GiB x 0.9); it needs 4 x 910B4: --tp 4, or leave --tp out"
    )


def test_tp_the_user_fixed_is_compared_with_the_smallest() -> None:
    holds = "the weights and 8,192 tokens of KV cache"  # min(40,960 context, 8,192)
    assert plan("Qwen3-30B-A3B", tp=4).tp_reason == f"set with --tp; the smallest TP that holds {holds}"
    assert plan("Qwen3-30B-A3B", tp=8).tp_reason == f"set with --tp; TP 4 would hold {holds}"
    given = plan("Qwen3-30B-A3B", npus=(4, 5, 6, 7))
    assert given.tp_reason == f"one rank per NPU given with --npus 4-7; the smallest TP that holds {holds}"


def test_npus_placed_by_ascendgen_keep_the_memory_reason() -> None:
    # several instances: the planner's TP is placed on NPUs 4-7, which the user never gave
    placed = plan("Qwen3-30B-A3B", npus=(4, 5, 6, 7), npus_placed=True)
    assert placed.npus == (4, 5, 6, 7)
    assert placed.tp_reason == plan("Qwen3-30B-A3B").tp_reason
    assert "--npus" not in placed.tp_reason


def test_qwen3_235b_on_one_a2_server_names_the_servers_it_needs() -> None:
    # weights: 235e9 x 2 B = 437.7326 GiB; the largest TP on 8 NPUs is 8: 54.7166 GiB per NPU > 26.541
    # TP 16 (2 servers): 27.3583 > 26.541. TP 32 (4 servers): 13.6791 GiB; runtime 0.5 + 2 x 0.25 = 1.0;
    # KV = 26.541 - 13.6791 - 1.0 - 1.0 = 10.8619 GiB; 8,192 tokens x 48,128 B (2 x 94 x 1 x 128 x 2) = 0.37 GiB
    message = refusal("Qwen3-235B-A22B")
    assert message == (
        "Qwen3-235B-A22B does not fit on one atlas-800i-a2 (8 x 910B4): at TP 8 the weights take 54.7 GiB per NPU, "
        "more than the 26.5 GiB usable (29.49 GiB x 0.9); it needs 4 servers like this one (32 x 910B4): "
        f"--node ADDR:IF --node ADDR:IF --node ADDR:IF --node ADDR:IF, {SERVERS_LINE}"
    )


def test_deepseek_r1_on_one_a2_server_names_servers_and_the_w8a8_build() -> None:
    # bf16: 671e9 x 2 B = 1,249.83 GiB; TP 8: 156.23 GiB per NPU. TP 32: 39.06 > 26.541; TP 64 (8 servers):
    # 19.53 GiB, KV = 26.541 - 19.53 - 1.0 - 1.0 = 5.01 GiB, 8,192 tokens x 70,272 B (61 x 576 x 2, MLA) = 0.54 GiB
    # W8A8: 626.64 GiB (test_w8a8_keeps_embeddings_in_bf16); TP 16: 39.17 > 26.541; TP 32: 19.58 GiB,
    # KV 4.96 GiB: 32 x 910B4 = 4 servers
    r1 = model("DeepSeek-R1")
    quantized = quantized_builds(r1, load_catalog().models)
    with pytest.raises(PlanError) as refused:
        plan_deployment(r1, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions(), quantized=quantized)
    assert str(refused.value) == (
        "DeepSeek-R1 does not fit on one atlas-800i-a2 (8 x 910B4): at TP 8 the weights take 156.2 GiB per NPU, "
        "more than the 26.5 GiB usable (29.49 GiB x 0.9); it needs 8 servers like this one (64 x 910B4): "
        f"--node ADDR:IF (x 8), {SERVERS_LINE}; or the W8A8 build DeepSeek-R1-W8A8 needs 32 x 910B4 (4 servers)"
    )


def test_quantized_builds_are_found_by_hub_repository_and_shape() -> None:
    catalog = load_catalog().models
    assert [m.name for m in quantized_builds(model("DeepSeek-R1"), catalog)] == ["DeepSeek-R1-W8A8"]
    assert [m.name for m in quantized_builds(model("DeepSeek-V3"), catalog)] == ["DeepSeek-V3-W8A8"]
    assert [m.name for m in quantized_builds(model("Qwen3-235B-A22B"), catalog)] == ["Qwen3-235B-A22B-W8A8"]
    assert quantized_builds(model("Qwen3-8B"), ()) == ()  # none in this catalog
    assert quantized_builds(model("DeepSeek-R1-W8A8"), catalog) == ()  # already quantized
    # a build of another shape under a matching name is not offered
    odd = replace(model("DeepSeek-R1-W8A8"), name="odd", num_layers=2)
    assert quantized_builds(model("DeepSeek-R1"), (odd,)) == ()
    # a user catalog's hub id without an organisation is its own repository name
    plain = replace(model("DeepSeek-R1"), hub_id="DeepSeek-R1")
    build = replace(model("DeepSeek-R1-W8A8"), hub_id="DeepSeek-R1-W8A8")
    assert quantized_builds(plain, (build,)) == (build,)
    assert quantized_builds(replace(model("Qwen3-8B"), hub_id="Qwen3-8B"), catalog) == ()
    # a hub id of one folder name (a model directory, a user catalog: hub_id: 1e400) has no organisation part
    folder = replace(model("DeepSeek-R1"), hub_id="DeepSeek-R1")
    assert [m.name for m in quantized_builds(folder, catalog)] == ["DeepSeek-R1-W8A8"]
    assert quantized_builds(replace(model("Qwen3-8B"), hub_id="1e400"), catalog) == ()


def qwen3_235b_w8a8() -> ModelSpec:
    return replace(
        model("Qwen3-235B-A22B"),
        name="Qwen3-235B-A22B-W8A8",
        hub_id="vllm-ascend/Qwen3-235B-A22B-W8A8",
        quantization="w8a8",
    )


def test_weights_that_fit_without_room_for_kv_cache_say_so() -> None:
    # 8 x 910B3: 60.96 x 0.9 = 54.864 GiB usable; TP 8: 54.7166 GiB of weights fit, but
    # + 1.0 activation + 1.0 runtime (0.5 + TP and EP groups) = 56.7166 > 54.864: no KV cache at all;
    # 8,192 tokens would need 8,192 x 48,128 B = 394,264,576 B = 0.3672 GiB per NPU.
    # TP 16 (2 servers): 27.3583 + 2.0 = 29.36 GiB, 25.5 GiB left: fits.
    # The W8A8 build: embeddings 2 x 151,936 x 4,096 = 1,244,659,712 params in bf16, the other
    # 233,755,340,288 in int8: 236,244,659,712 B = 220.0213 GiB; TP 4: 55.0 > 54.864; TP 8: 27.5027 + 2.0,
    # 25.36 GiB of KV cache: fits on this server.
    options = PlanOptions()
    with pytest.raises(PlanError) as refused:
        plan_deployment(
            model("Qwen3-235B-A22B"), npu=B3, platform=A2, server=SERVER_64G, image=IMAGE, options=options,
            quantized=(qwen3_235b_w8a8(),),
        )  # fmt: skip
    assert str(refused.value) == (
        "Qwen3-235B-A22B does not fit on one atlas-800t-a2 (8 x 910B3): at TP 8 the weights (54.7 GiB per NPU) "
        "fit, but with the reserves (1.0 GiB activation, 1.0 GiB runtime and HCCL) they take 56.7 of the 54.9 GiB "
        "usable (60.96 GiB x 0.9): no room is left for the KV cache, and 8,192 tokens need 0.37 GiB per NPU; "
        f"it needs 2 servers like this one (16 x 910B3): --node ADDR:IF --node ADDR:IF, {SERVERS_LINE}; "
        "or the W8A8 build Qwen3-235B-A22B-W8A8 fits on 8 x 910B3 of this server"
    )


def test_a_kv_cache_short_of_a_useful_length_is_named_in_tokens() -> None:
    # A made-up 13.15 B Qwen3-8B: 26.3e9 B = 24.4939 GiB of weights at TP 1;
    # KV = 26.541 - 24.4939 - 1.0 - 0.5 (no HCCL group at TP 1) = 0.5471 GiB
    # = 587,460,... B / (147,456 B x 128) = 31.1 -> 31 blocks -> 3,968 tokens, short of 8,192
    # (8,192 x 147,456 B = 1.125 GiB). TP 2: 12.2469 + 1.0 + 0.75, 12.54 GiB of KV cache: the smallest.
    small = replace(model("Qwen3-8B"), params_b=13.15)

    def plan_small(**options: object):  # type: ignore[no-untyped-def]
        return plan_deployment(
            small,
            npu=B4,
            platform=A2,
            server=SERVER,
            image=IMAGE,
            options=PlanOptions(**options),  # type: ignore[arg-type]
        )

    short = (
        "the weights (24.5 GiB per NPU) and reserves (1.0 GiB activation, 0.5 GiB runtime and HCCL) leave 0.55 GiB "
        "of the 26.5 GiB usable (29.49 GiB x 0.9) for the KV cache: 3,968 tokens, short of 8,192 (1.12 GiB)"
    )
    assert plan_small().tp_reason == (
        "the smallest valid TP (1, 2, 4, 8 divide the heads) that holds the weights and 8,192 tokens of KV cache; "
        f"at TP 1 {short}"
    )
    forced = plan_small(tp=1)
    assert forced.kv_cache_tokens == 3_968
    assert forced.tp_reason == f"set with --tp; {short}"


def test_max_model_len_below_the_context_says_why_and_what_would_serve_it() -> None:
    # Qwen2.5-VL-32B-Instruct at TP 4 holds 125,952 tokens (test_kv_capacity_bounds_max_model_len);
    # TP 8: 7.7998 GiB weights, KV = 26.541 - 7.7998 - 2.5 - 0.75 = 15.4912 GiB at 32,768 B per token
    # (8 KV heads / 8): 3,966 blocks = 507,648 tokens >= 128,000
    vl = plan("Qwen2.5-VL-32B-Instruct")
    assert vl.max_model_len_reason.startswith("the KV cache capacity at TP 4, below the model's context of 128,000: ")
    assert (
        "max-model-len 124,672 is below Qwen2.5-VL-32B-Instruct's context of 128,000: the KV cache holds only "
        "125,952 tokens at TP 4; TP 8 (8 NPUs) would hold the full context"
    ) in vl.warnings
    asked = plan("Qwen3-8B", max_model_len=32_768)
    assert "max-model-len 32,768 (set with --max-model-len) is below Qwen3-8B's context of 40,960" in asked.warnings
    # a context of 10 M: TP 8 holds 22.9 GiB / 18,432 B per token = 1.33 M tokens at most
    huge = replace(model("Qwen3-8B"), max_position_embeddings=10_000_000)
    p = plan_deployment(huge, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert p.warnings[0].endswith(f"tokens at TP 1; no TP on {SERVER.name} holds the full context")


def test_every_planner_warning_has_its_numbers() -> None:
    # Qwen3-8B: 71,040 tokens at 40,960 per request (test_qwen3_8b_on_one_910b4): 1.73 at once
    assert "the KV cache (71,040 tokens) holds 1.73 requests of 40,960 tokens at once; more long requests queue" in (
        plan("Qwen3-8B").warnings
    )
    # 29.49 GiB x (1 - 0.98) = 0.5898 GiB outside vLLM's budget
    assert (
        "gpu-memory-utilization 0.98 leaves 0.59 GiB outside vLLM's budget; graph capture needs up to ~1 GiB there, "
        "so NPU out-of-memory is likely"
    ) in plan("Qwen3-8B", gpu_memory_utilization=0.98).warnings
    recorded = replace(model("Qwen3-8B"), npus={"910B4": 2})
    p = plan_deployment(recorded, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert "the catalog records 2 x 910B4 for Qwen3-8B, the planner's minimum is 1" in p.warnings
    vl = plan("Qwen3-VL-8B-Instruct")  # min_image v0.11.0rc3 on the test's v0.9.2rc1
    assert (
        "Qwen3-VL-8B-Instruct needs image v0.11.0rc3 or newer (transformers >= 4.57.0); v0.9.2rc1 will not load it"
    ) in vl.warnings


def test_fits_on_one_server_counts_npus_as_a_plan_on_one_server_would() -> None:
    # A made-up 52.5 B Qwen3-30B-A3B (expert parallel in the catalog): 105e9 B = 97.7889 GiB; TP 4: 24.4472 GiB.
    # With EP (TP and EP groups, runtime 1.0): KV = 26.541 - 24.4472 - 1.0 - 1.0 = 0.0938 GiB = 31 blocks,
    # 3,968 tokens < 8,192: `ascendgen plan` alone takes TP 8. The tp layout across servers drops EP (runtime
    # 0.75, 0.3438 GiB = 117 blocks = 14,976 tokens at TP 4), but the advice is about the plan on one server.
    big = replace(model("Qwen3-30B-A3B"), params_b=52.5)
    alone = plan_deployment(big, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert alone.tensor_parallel_size == 8
    across = PlanOptions(nodes=2, tp=16, expert_parallel=False)
    spanned = plan_deployment(big, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=across)
    assert "--enable-expert-parallel" not in spanned.serve_args
    assert spanned.warnings[0].startswith("Qwen3-30B-A3B fits on one atlas-800i-a2 (8 x 910B4): run an independent")


def test_exact_weight_bytes_beat_params_times_bytes() -> None:
    # Qwen3-8B from the catalog: 8.2e9 x 2 B = 16.4e9 B = 15.2737 GiB; with the files' 16,381,470,720 B = 15.2564 GiB
    entry = model("Qwen3-8B")
    assert weights_gib(entry) == pytest.approx(15.2737, abs=1e-4)
    exact = replace(entry, weight_bytes=16_381_470_720)
    assert weights_gib(exact) == pytest.approx(16_381_470_720 / GIB)
    assert weights_gib(exact) == pytest.approx(15.2564, abs=1e-4)


# W4A8 on a MoE model: 4-bit routed experts, 8-bit everything else (planner._NON_EXPERT_BYTES cites vllm-ascend).
# Qwen3.5-397B-A17B-w4a8-mtp: 396.8e9 params, 17.8e9 active, 10 of 512 experts per token, vocab 248,320, hidden 4,096.
#   routed experts: (396.8e9 - 17.8e9) / (1 - 10 / 512) = 379e9 x 512 / 502 = 386.5498e9
#   embeddings + lm_head (bf16): 2 x 248,320 x 4,096 = 2,034,237,440
#   the rest (attention, shared experts, router, vision tower; int8): 396.8e9 - 2.0342e9 - 386.5498e9 = 8.2160e9
#   bytes: 386.5498e9 x 0.5 + 8.2160e9 x 1 + 2.0342e9 x 2 = 205.5593e9 B = 191.44 GiB
#   (every linear layer at 4 bits, as before: (396.8e9 - 2.0342e9) x 0.5 + 4.0685e9 = 201.4514e9 B = 187.62 GiB)
def test_w4a8_moe_build_has_4_bit_experts_and_8_bit_other_layers() -> None:
    build = model("Qwen3.5-397B-A17B-w4a8-mtp")
    assert (build.quantization, build.experts_per_token, build.num_experts) == ("w4a8", 10, 512)
    assert routed_expert_params(build) == pytest.approx(386.5498e9, rel=1e-6)
    assert weights_gib(build) == pytest.approx(205.5593e9 / GIB, rel=1e-5)
    assert weights_gib(build) == pytest.approx(191.44, abs=0.005)
    # without experts_per_token the routed experts are all - active = 379e9, a lower bound, so more bytes:
    # 379e9 x 0.5 + (396.8e9 - 2.0342e9 - 379e9) x 1 + 4.0685e9 = 209.3343e9 B = 194.96 GiB
    unknown_k = replace(build, experts_per_token=None)
    assert routed_expert_params(unknown_k) == pytest.approx(379e9)
    assert weights_gib(unknown_k) == pytest.approx(209.3343e9 / GIB, rel=1e-5)
    # the W8A8 build of the same model: every linear layer 1 byte, experts or not:
    # (396.8e9 - 2.0342e9) x 1 + 4.0685e9 = 398.8342e9 B = 371.44 GiB
    w8a8 = replace(build, quantization="w8a8")
    assert weights_gib(w8a8) == pytest.approx(398.8342e9 / GIB, rel=1e-5)
    # a dense W4A8 build keeps 4 bits for its linear layers (no experts): Qwen3-8B, 8.2e9 params, vocab 151,936,
    # hidden 4,096: (8.2e9 - 1.2446e9) x 0.5 + 1.2446e9 x 2 = 5.9669e9 B
    dense = replace(model("Qwen3-8B"), quantization="w4a8")
    assert routed_expert_params(dense) == 0.0
    assert weights_gib(dense) == pytest.approx(5.9669e9 / GIB, rel=1e-4)


def test_experts_per_token_is_for_moe_models_with_fewer_than_all_experts() -> None:
    moe = dump(model("Qwen3-30B-A3B"))  # 128 experts
    for update, message in [
        ({"experts_per_token": 128}, "fewer than"),
        ({"experts_per_token": 0}, "experts_per_token"),
    ]:
        with pytest.raises(ValueError, match=message):
            validate(ModelSpec, {**moe, **update})
    assert validate(ModelSpec, {**moe, "experts_per_token": 8}).experts_per_token == 8
    with pytest.raises(ValueError, match="only for kind 'moe'"):
        validate(ModelSpec, {**dump(model("Qwen3-8B")), "experts_per_token": 8})


# The W4A8 builds' NPU counts by hand (910B3: 60.96 x 0.92 = 56.0832 GiB usable; 910B4: 27.1308; a2 reserves as
# above; expert parallel: TP and EP groups), against vllm-ascend's published deployments:
#   GLM-5-w4a8: routed (743.9e9 - 41.8e9) x 256 / 248 = 724.7484e9; embeddings 2 x 154,880 x 6,144 = 1.9032e9;
#     bytes 362.3742e9 + 17.2484e9 + 3.8063e9 = 383.4290e9 = 357.10 GiB. 910B3 TP 4: 89.27 > 56.08; TP 8: 44.64 +
#     1.0 + 1.0 -> 9.45 GiB of KV >= 8,192 x 78 x 576 x 2 B (0.69 GiB) -> 8, as GLM5.md: "can be deployed on 1 Atlas
#     800 A2 (64GB x 8)". 910B4 TP 8: 44.64 > 27.13; TP 16: 22.32 + 2.0 -> 2.81 GiB -> 16
#   Qwen3.5-397B-A17B-w4a8-mtp (191.44 GiB, vision: activation 2.5): 910B3 TP 2: 95.72 > 56.08; TP 4: 47.86 + 2.5 +
#     1.0 -> 4.72 GiB >= 8,192 x 60 x 2 x 1 x 256 x 2 B (0.47 GiB) -> 4 (vllm-ascend's nightly serves it on one A2
#     node, TP 8, tests/e2e/nightly/single_node/models/configs/Qwen3.5-397B-A17B-w4a8-mtp-A2.yaml, with 133,120
#     tokens and MTP; its tutorial lists 2 A2 nodes). 910B4 TP 8: 23.93 + 2.5 + 1.0 = 27.43 > 27.13; TP 16 -> 16
@pytest.mark.parametrize(
    ("name", "npu_name", "count"),
    [
        ("GLM-5-w4a8", "910B3", 8),
        ("GLM-5-w4a8", "910B4", 16),
        ("Qwen3.5-397B-A17B-w4a8-mtp", "910B3", 4),
        ("Qwen3.5-397B-A17B-w4a8-mtp", "910B4", 16),
    ],
)
def test_w4a8_npu_counts_by_hand(name: str, npu_name: str, count: int) -> None:
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images

    hardware, newest = load_hardware(), load_images()[-1]
    npu = hardware.npu_type(npu_name)
    expected_gib = {"GLM-5-w4a8": 357.10, "Qwen3.5-397B-A17B-w4a8-mtp": 191.44}[name]
    assert weights_gib(model(name)) == pytest.approx(expected_gib, abs=0.005)
    assert npus_needed(model(name), npu, hardware.platform(npu.platform), 0.92, newest.tag) == count


def test_hybrid_and_int8_kv_caches() -> None:
    entry = model("Qwen3-8B")  # 36 layers, 8 KV heads, head_dim 128
    # all 36 layers: 2 x 36 x 8 x 128 x 2 B = 147,456 B per token
    assert kv_bytes_per_token(entry, 1) == 147_456
    # 9 of them with a growing KV cache (the others linear attention): 2 x 9 x 8 x 128 x 2 B = 36,864 B
    hybrid = replace(entry, kv_cache_layers=9)
    assert kv_bytes_per_token(hybrid, 1) == 36_864
    # PP 2: a stage holds ceil(9 / 2) = 5 of them: 2 x 5 x 8 x 128 x 2 B = 20,480 B
    assert kv_bytes_per_token(hybrid, 1, pp=2) == 20_480
    # C8: one byte per element: 2 x 36 x 8 x 128 x 1 B = 73,728 B
    assert kv_bytes_per_token(replace(entry, kv_cache_dtype="int8"), 1) == 73_728


def test_new_model_fields_are_strict() -> None:
    base = dump(model("Qwen3-8B"))
    for field, value in [("weight_bytes", True), ("weight_bytes", 1.5), ("weight_bytes", 0), ("kv_cache_layers", 37),
                         ("kv_cache_layers", "9"), ("kv_cache_dtype", "fp8")]:  # fmt: skip
        with pytest.raises(ValueError, match=field):
            validate(ModelSpec, {**base, field: value})


def test_plan_json_says_where_the_numbers_came_from() -> None:
    data = plan("Qwen3-8B").to_json()
    assert data["source"] == "catalog" and data["files_read"] == []


# ------------------------------------------------------------------ the plan as data, option by option


def test_plan_json_holds_every_number_of_the_plan() -> None:
    # Qwen3-8B at TP 1: the numbers of test_qwen3_8b_on_one_910b4; 32 heads / 8 KV heads: TP 1, 2, 4, 8 valid
    assert plan("Qwen3-8B").to_json() == {
        "model": "Qwen3-8B",
        "hub_id": "Qwen/Qwen3-8B",
        "served_model_name": "Qwen/Qwen3-8B",
        "server": "atlas-800i-a2",
        "npu_type": "910B4",
        "hbm_gib": 32.0,
        "tensor_parallel_size": 1,
        "pipeline_parallel_size": 1,
        "nodes": 1,
        "tp_reason": "the smallest valid TP (1, 2, 4, 8 divide the heads); it holds the weights and 8,192 tokens of "
        "KV cache",
        "valid_tp_sizes": [1, 2, 4, 8],
        "npus": [0],
        "gpu_memory_utilization": 0.9,
        "weights_gib_per_npu": 15.27,  # 15.2737
        "activation_reserve_gib": 1.0,
        "runtime_reserve_gib": 0.5,
        "kv_bytes_per_token": 147_456,
        "kv_cache_gib_per_npu": 9.77,  # 9.7673
        "kv_cache_tokens": 71_040,
        "max_model_len": 40_960,
        "max_model_len_reason": "the model's context (max_position_embeddings)",
        "max_concurrency": 1.73,
        "port": 8000,
        "image": "quay.io/ascend/vllm-ascend:v0.9.2rc1",
        "vllm_version": "0.9.2",
        "model_path": "/models/Qwen/Qwen3-8B",
        "serve_args": [
            "/models/Qwen/Qwen3-8B",
            "--served-model-name",
            "Qwen/Qwen3-8B",
            "--port",
            "8000",
            "--max-model-len",
            "40960",
        ],
        "environment": {"VLLM_USE_MODELSCOPE": "True"},
        "warnings": [
            "the KV cache (71,040 tokens) holds 1.73 requests of 40,960 tokens at once; more long requests queue",
            "the API listens on all interfaces without an API key: anyone who reaches this host can use it (add "
            "--generate-api-key, or --host 127.0.0.1 to serve this machine only)",
        ],
        "source": "catalog",
        "files_read": [],
        "kv_cache_margin": 0,  # the full context fits: no margin is kept back
        "kv_cache_margin_percent": 1.0,
        "data_parallel_size": 1,
        "dp_reason": "",
    }


def test_options_reach_the_serve_args_environment_and_mounts() -> None:
    # util 0.85: 29.49 x 0.85 = 25.0665 usable; KV = 25.0665 - 15.2737 - 1.0 - 0.5 = 8.2928 GiB
    # = 8,904,3xx,xxx B / (147,456 x 128) = 471.8 -> 471 blocks -> 60,288 tokens
    p = plan(
        "Qwen3-8B", host="127.0.0.1", require_api_key=True, port=9000, gpu_memory_utilization=0.85,
        models_dir="/data", cache_dir="/cache",
    )  # fmt: skip
    assert p.serve_args == (
        "/models/Qwen/Qwen3-8B", "--served-model-name", "Qwen/Qwen3-8B", "--host", "127.0.0.1", "--port", "9000",
        "--max-model-len", "40960", "--gpu-memory-utilization", "0.85",
    )  # fmt: skip
    assert p.environment == (("VLLM_USE_MODELSCOPE", "True"), ("VLLM_API_KEY", EnvRef("VLLM_API_KEY")))
    assert (p.port, p.models_dir, p.cache_dir, p.model_path) == (9000, "/data", "/cache", "/models/Qwen/Qwen3-8B")
    assert (p.kv_cache_tokens, p.gpu_memory_utilization) == (60_288, 0.85)
    # a host or a key: no warning about an open API
    assert p.warnings == ("the KV cache (60,288 tokens) holds 1.47 requests of 40,960 tokens at once; more long "
                          "requests queue",)  # fmt: skip
    assert not any("all interfaces" in w for w in plan("Qwen3-8B", host="0.0.0.0").warnings)
    assert not any("all interfaces" in w for w in plan("Qwen3-8B", require_api_key=True).warnings)


def test_the_image_default_utilization_is_not_repeated_as_a_flag() -> None:
    assert "--gpu-memory-utilization" not in plan("Qwen3-8B", gpu_memory_utilization=0.9).serve_args
    assert "--tensor-parallel-size" not in plan("Qwen3-8B").serve_args
    tp2 = plan("Qwen3-8B", tp=2)
    assert tp2.serve_args[tp2.serve_args.index("--tensor-parallel-size") + 1] == "2"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::1", "[::1]", "LOCALHOST", "my-host_1.lan", "h" * 255])
def test_hosts_vllm_can_bind(host: str) -> None:
    assert plan("Qwen3-8B", host=host).serve_args[3:5] == ("--host", host)


@pytest.mark.parametrize("host", ["", "a b", "$(id)", "h;rm", "h" * 256, "é"])
def test_hosts_vllm_cannot_bind(host: str) -> None:
    assert (
        refusal("Qwen3-8B", host=host) == f"--host '{host}' is not an address vLLM can bind (e.g. 127.0.0.1 or 0.0.0.0)"
    )


def test_ports_1_to_65535() -> None:
    assert plan("Qwen3-8B", port=1).port == 1 and plan("Qwen3-8B", port=65535).port == 65535
    for port in (0, 65536):
        assert refusal("Qwen3-8B", port=port) == f"--port {port} is not a TCP port (1-65535)"


@pytest.mark.parametrize("util", [0.0, -0.1, 1.01])
def test_utilization_above_0_and_at_most_1(util: float) -> None:
    assert refusal("Qwen3-8B", gpu_memory_utilization=util) == (
        f"--gpu-memory-utilization {util} must be above 0 and at most 1"
    )
    assert plan("Qwen3-8B", gpu_memory_utilization=1.0).gpu_memory_utilization == 1.0


def test_npus_must_be_on_the_server() -> None:
    assert plan("Qwen3-8B", npus=(7,)).npus == (7,)
    assert refusal("Qwen3-8B", npus=(8,)) == "--npus: NPU 8 is not on atlas-800i-a2, which has NPUs 0-7"
    assert refusal("Qwen3-8B", npus=(3, 9, 10)) == "--npus: NPU 9 is not on atlas-800i-a2, which has NPUs 0-7"


def test_tp_and_npus_refusals_say_what_to_change() -> None:
    assert refusal("Qwen3-8B", tp=16) == (
        "--tp 16 needs 16 NPUs; atlas-800i-a2 has 8 (to span servers, give one --node ADDR:IF per server instead: "
        "the layout sets TP)"
    )
    assert refusal("Qwen3-8B", tp=2, npus=(0, 1, 2, 3)) == "--tp 2 uses 2 NPUs but --npus 0-3 lists 4"
    assert refusal("Qwen3-8B", npus=(0, 1, 2)) == (
        "--npus 0-2 gives 3 NPUs, but TP 3 does not divide Qwen3-8B's 32 attention heads and 8 KV heads; "
        "valid sizes: 1, 2, 4, 8"
    )
    assert plan("Qwen3-8B", tp=2, npus=(4, 6)).npus == (4, 6)


def test_npus_given_too_few_for_the_smallest_tp_say_what_they_lack() -> None:
    # the made-up 13.15 B Qwen3-8B of test_a_kv_cache_short_of_a_useful_length_is_named_in_tokens: TP 1 fits the
    # weights with 3,968 tokens of KV cache, short of 8,192; TP 2 is the smallest that holds them
    small = replace(model("Qwen3-8B"), params_b=13.15)
    p = plan_deployment(small, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions(npus=(0,)))
    assert p.tp_reason == (
        "one rank per NPU given with --npus 0; the weights (24.5 GiB per NPU) and reserves (1.0 GiB activation, "
        "0.5 GiB runtime and HCCL) leave 0.55 GiB of the 26.5 GiB usable (29.49 GiB x 0.9) for the KV cache: "
        "3,968 tokens, short of 8,192 (1.12 GiB)"
    )


def test_a_length_no_tp_holds_names_the_most_the_server_holds() -> None:
    # Qwen3-8B with a context of 10 M: TP 8 holds the most. Weights 15.2737 / 8 = 1.90921 GiB; runtime 0.5 + 0.25;
    # KV = 26.541 - 1.90921 - 1.0 - 0.75 = 22.88179 GiB; 2 x 36 x (8 KV heads / 8) x 128 x 2 B = 18,432 B per token
    # 22.88179 x 2**30 / (18,432 x 128) = 10,413.x -> 10,413 blocks -> 1,332,864 tokens
    huge = replace(model("Qwen3-8B"), max_position_embeddings=10_000_000)
    with pytest.raises(PlanError) as refused:
        plan_deployment(
            huge, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions(max_model_len=5_000_000)
        )
    assert str(refused.value) == (
        "--max-model-len 5000000 does not fit: the KV cache holds at most 1332864 tokens (TP 8 on 910B4); "
        "use --max-model-len 1332864 or less"
    )


def test_a_model_with_a_short_kv_cache_at_every_tp_of_one_server_names_the_servers() -> None:
    # A made-up 106.1 B Qwen3-8B: 212.2e9 B = 197.626 GiB; TP 8: 24.7033 GiB per NPU; runtime 0.5 + 0.25;
    # KV = 26.541 - 24.7033 - 1.0 - 0.75 = 0.0877 GiB = 94,1xx,xxx B / (18,432 x 128) = 39.9 -> 39 blocks = 4,992
    # tokens, short of 8,192 (8,192 x 18,432 B = 0.1406 GiB). TP 16 (two servers): 12.35 GiB per NPU, fits.
    big = replace(model("Qwen3-8B"), params_b=106.1)
    with pytest.raises(PlanError) as refused:
        plan_deployment(big, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert str(refused.value) == (
        "Qwen3-8B does not fit on one atlas-800i-a2 (8 x 910B4): at TP 8 the weights (24.7 GiB per NPU) and reserves "
        "(1.0 GiB activation, 0.75 GiB runtime and HCCL) leave 0.09 GiB of the 26.5 GiB usable (29.49 GiB x 0.9) "
        "for the KV cache: 4,992 tokens, short of 8,192 (0.14 GiB); it needs 2 servers like this one "
        f"(16 x 910B4): --node ADDR:IF --node ADDR:IF, {SERVERS_LINE}"
    )


# --------------------------------------------------------------------------------------------- boundaries


def test_pp_stages_take_the_ceiling_of_the_layers() -> None:
    # DeepSeek-V3: 61 layers over PP 2: the first stage holds ceil(61 / 2) = 31, not 30.
    # MLA: 31 layers x (512 kv_lora_rank + 64 rope) x 2 B = 35,712 B per token (30 layers would be 34,560)
    v3 = model("DeepSeek-V3")
    assert v3.num_layers == 61
    assert kv_bytes_per_token(v3, 8, pp=2) == 31 * 576 * 2 == 35_712
    assert kv_bytes_per_token(v3, 8, pp=1) == 61 * 576 * 2
    # GQA: Qwen3-8B's 36 layers over PP 3: 12 each, exactly: 2 x 12 x 8 x 128 x 2 B
    assert kv_bytes_per_token(model("Qwen3-8B"), 1, pp=3) == 49_152


def test_a_max_model_len_exactly_at_capacity_is_taken() -> None:
    # Qwen2.5-VL-32B-Instruct holds 125,952 tokens at TP 4 (test_kv_capacity_bounds_max_model_len): asking exactly
    # that keeps TP 4, with --tp 4 or without; one token more needs TP 8, or is refused at --tp 4
    at = plan("Qwen2.5-VL-32B-Instruct", max_model_len=125_952)
    assert (at.tensor_parallel_size, at.max_model_len) == (4, 125_952)
    assert plan("Qwen2.5-VL-32B-Instruct", tp=4, max_model_len=125_952).max_model_len == 125_952
    assert plan("Qwen2.5-VL-32B-Instruct", max_model_len=125_953).tensor_parallel_size == 8
    with pytest.raises(PlanError, match="--max-model-len 125953 does not fit: the KV cache holds 125952 tokens"):
        plan("Qwen2.5-VL-32B-Instruct", tp=4, max_model_len=125_953)
    # and the model's context itself, exactly: taken (one more: refused, test above), and no warning that it is
    # below the context; the shortest length, 1 token, is taken too
    at_context = plan("Qwen3-8B", max_model_len=40_960)
    assert at_context.max_model_len == 40_960 and not any("below" in w for w in at_context.warnings)
    assert plan("Qwen3-8B", max_model_len=1).max_model_len == 1
    with pytest.raises(PlanError, match="--max-model-len 0 must be a positive number of tokens"):
        plan("Qwen3-8B", tp=1, max_model_len=0)


def test_the_graph_headroom_warning_starts_below_1_gib() -> None:
    # outside vLLM's budget: 29.49 x (1 - 0.96) = 1.18 GiB (no warning); x (1 - 0.97) = 0.88 GiB (warning)
    assert not any("graph capture" in w for w in plan("Qwen3-8B", gpu_memory_utilization=0.96).warnings)
    assert (
        "gpu-memory-utilization 0.97 leaves 0.88 GiB outside vLLM's budget; graph capture needs up to ~1 GiB there, "
        "so NPU out-of-memory is likely"
    ) in plan("Qwen3-8B", gpu_memory_utilization=0.97).warnings


def test_the_concurrency_warning_starts_below_two_full_requests() -> None:
    # Qwen3-8B at TP 2: 7.6368 GiB weights, runtime 0.75: KV = 26.541 - 7.6368 - 1.0 - 0.75 = 17.1542 GiB at
    # 2 x 36 x 4 x 128 x 2 = 73,728 B per token: 1,951 blocks = 249,728 tokens >= 2 x 40,960: no warning
    assert not any("more long requests queue" in w for w in plan("Qwen3-8B", tp=2).warnings)
    # TP 1 holds 71,040 < 81,920: the warning (test_every_planner_warning_has_its_numbers); at 35,520 tokens a
    # request, exactly two fit: no warning; at 36,000: 71,040 / 36,000 = 1.97
    assert not any("queue" in w for w in plan("Qwen3-8B", max_model_len=35_520).warnings)
    assert (
        "the KV cache (71,040 tokens) holds 1.97 requests of 36,000 tokens at once; more long requests queue"
        in plan("Qwen3-8B", max_model_len=36_000).warnings
    )


def test_an_image_not_in_the_list_warns_with_its_note() -> None:
    noted = ImageChoice(reference="quay.io/x/y:v9", spec=IMAGE.spec, note="image 'quay.io/x/y:v9' is not in the list")
    p = plan_deployment(model("Qwen3-8B"), npu=B4, platform=A2, server=SERVER, image=noted, options=PlanOptions())
    assert p.warnings[0] == "image 'quay.io/x/y:v9' is not in the list"
    assert p.image.reference == "quay.io/x/y:v9"


def test_a_min_image_at_or_below_the_image_does_not_warn() -> None:
    at = replace(model("Qwen3-8B"), min_image="v0.9.2rc1", min_transformers=None)
    p = plan_deployment(at, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert not any("needs image" in w for w in p.warnings)
    newer = replace(at, min_image="v0.9.2")  # the release comes after its rc
    p = plan_deployment(newer, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions())
    assert "Qwen3-8B needs image v0.9.2 or newer; v0.9.2rc1 will not load it" in p.warnings


def test_reserves_are_written_as_hardware_yaml_writes_them() -> None:
    assert [_reserve(gib) for gib in (1.0, 0.75, 2.5, 0.5, 0.25)] == ["1.0", "0.75", "2.5", "0.5", "0.25"]


# ------------------------------------------------------------------------------------------ across servers


def test_layouts_across_servers_use_every_npu() -> None:
    # nodes without a TP: 0 x 1 != 16 NPUs
    assert refusal("Qwen3-8B", nodes=2) == "TP 0 x PP 1 must use all 16 NPUs of 2 x atlas-800i-a2"
    assert refusal("Qwen3-8B", nodes=2, tp=8) == "TP 8 x PP 1 must use all 16 NPUs of 2 x atlas-800i-a2"
    p = plan("Qwen3-8B", nodes=2, tp=8, pp=2)
    assert (p.tensor_parallel_size, p.pipeline_parallel_size, p.npus) == (8, 2, tuple(range(8)))
    assert p.valid_tp_sizes == (1, 2, 4, 8, 16)  # up to the 16 NPUs of both servers
    # expert parallel across servers without PP is the ep layout
    ep = plan("Qwen3-30B-A3B", nodes=2, tp=16)
    assert ep.tp_reason.startswith("TP 16 x PP 1: 2 nodes x 8 NPUs, one rank per NPU, expert parallel")
    with pytest.raises(PlanError, match="pipeline parallel together with expert parallel"):
        plan("Qwen3-30B-A3B", nodes=2, tp=8, pp=2)


def test_a_cluster_layout_that_does_not_fit_names_the_servers_it_needs() -> None:
    # Qwen3-235B-A22B over TP 8 x PP 2: 437.7326 GiB / 16 ranks = 27.3583 GiB per NPU > 26.541 usable;
    # PP 3 (3 servers): 18.2389 GiB, fits
    assert refusal("Qwen3-235B-A22B", nodes=2, tp=8, pp=2, expert_parallel=False) == (
        "Qwen3-235B-A22B does not fit on 2 x atlas-800i-a2 (16 x 910B4): at TP 8 x PP 2 the weights take 27.4 GiB "
        "per NPU, more than the 26.5 GiB usable (29.49 GiB x 0.9); it needs 3 servers with this layout: "
        f"--node ADDR:IF --node ADDR:IF --node ADDR:IF, {SERVERS_LINE}"
    )


def test_cluster_refusals_word_for_word() -> None:
    assert refusal("Qwen3-30B-A3B", nodes=2, tp=8, pp=2) == (
        "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: TP+PP+EP fails at "
        "start-up); use the tp or ep layout for this MoE model"
    )
    # 28 heads: 28 % 16 != 0; the valid sizes up to the 16 NPUs of both servers
    assert refusal("Qwen2.5-7B-Instruct", nodes=2, tp=16) == (
        "TP 16 does not divide Qwen2.5-7B-Instruct's 28 attention heads and 4 KV heads; valid sizes: 1, 2, 4"
    )
    # 1e14 parameters: 2e14 B / 16 ranks = 11,641.5 GiB per NPU; no layout of up to 64 NPUs holds it
    huge = replace(model("Qwen3-8B"), params_b=100_000)
    with pytest.raises(PlanError) as refused:
        plan_deployment(huge, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=PlanOptions(nodes=2, tp=8, pp=2))
    assert str(refused.value) == (
        "Qwen3-8B does not fit on 2 x atlas-800i-a2 (16 x 910B4): at TP 8 x PP 2 the weights take 11641.5 GiB per "
        "NPU, more than the 26.5 GiB usable (29.49 GiB x 0.9); this layout does not fit on up to 64 x 910B4"
    )


def test_pp_stages_at_most_the_layers() -> None:
    two_layers = replace(model("Qwen3-8B"), num_layers=2)

    def spanned(nodes: int, pp: int):  # type: ignore[no-untyped-def]
        options = PlanOptions(nodes=nodes, tp=8, pp=pp)
        return plan_deployment(two_layers, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=options)

    assert spanned(2, 2).pipeline_parallel_size == 2  # one layer per stage
    with pytest.raises(PlanError) as refused:
        spanned(3, 3)
    assert str(refused.value) == "PP 3 is more stages than Qwen3-8B's 2 layers"


def test_a_cluster_reason_says_when_fewer_servers_would_do() -> None:
    assert plan("Qwen3-8B", nodes=2, tp=8, pp=2).tp_reason == "TP 8 x PP 2: 2 nodes x 8 NPUs, one rank per NPU"
    # Qwen3-235B-A22B with PP: 3 stages hold it (test_a_cluster_layout_that_does_not_fit_names_the_servers_it_needs)
    four = plan("Qwen3-235B-A22B", nodes=4, tp=8, pp=4, expert_parallel=False)
    assert four.tp_reason == (
        "TP 8 x PP 4: 4 nodes x 8 NPUs, one rank per NPU; 3 servers would hold the weights and 8,192 tokens of KV "
        "cache with this layout"
    )


def test_a_cluster_plan_serves_with_ray_and_keeps_every_warning() -> None:
    p = plan("Qwen3-8B", nodes=2, tp=8, pp=2, max_model_len=32_768)
    assert p.serve_args == (
        "/models/Qwen/Qwen3-8B", "--served-model-name", "Qwen/Qwen3-8B", "--distributed-executor-backend", "ray",
        "--pipeline-parallel-size", "2", "--tensor-parallel-size", "8", "--port", "8000", "--max-model-len", "32768",
    )  # fmt: skip
    assert p.warnings == (
        "max-model-len 32,768 (set with --max-model-len) is below Qwen3-8B's context of 40,960",
        "Qwen3-8B fits on one atlas-800i-a2 (1 x 910B4): run an independent replica on each server instead (ascendgen "
        f"plan Qwen3-8B on each); {CROSS_NODE_COST}",
        "the API listens on all interfaces without an API key: anyone who reaches this host can use it (add "
        "--generate-api-key, or --host 127.0.0.1 to serve this machine only)",
    )


def test_mla_models_ignore_kv_heads_when_choosing_tp() -> None:
    # MLA keeps one latent, not KV heads: a KV-head count that TP could not split does not matter
    odd = replace(model("DeepSeek-V3"), num_key_value_heads=3)
    assert valid_tp_sizes(odd, 8) == (1, 2, 4, 8) and tp_is_valid(odd, 8)
    gqa = replace(odd, attention="gqa", mla=None)
    assert valid_tp_sizes(gqa, 8) == (1,) and not tp_is_valid(gqa, 2)


def test_the_platform_drops_image_variables_it_does_not_take() -> None:
    spec = replace(IMAGE.spec, env={"KEEP": "1", "DROP": "2"})
    image = ImageChoice(reference=IMAGE.reference, spec=spec)
    platform = replace(A2, drop_env=("DROP",))
    p = plan_deployment(model("Qwen3-8B"), npu=B4, platform=platform, server=SERVER, image=image, options=PlanOptions())
    assert p.environment == (("VLLM_USE_MODELSCOPE", "True"), ("KEEP", "1"))


def test_a_plan_on_310p_halves_the_kv_budget_with_the_image_that_does() -> None:
    # test_310p_halves_the_kv_budget_only_from_v0_18, through plan_deployment: the image's tag decides
    m = replace(model("Qwen3-8B"), dtype="float16")
    p310 = NpuType(name="310P3", memory_gib=43.24, visible_gib=43.24, platform="310p")
    for tag, factor in (("v0.9.2rc1", 1.0), ("v0.18.0rc1", 0.5)):
        image = ImageChoice(reference=f"x:{tag}", spec=replace(IMAGE.spec, tag=tag))
        p = plan_deployment(m, npu=p310, platform=P310, server=SERVER, image=image, options=PlanOptions())
        assert p.memory.kv_budget_factor == factor


def test_tp8_pp2_memory_per_rank_by_hand() -> None:
    # Qwen3-8B over 2 servers, TP 8 x PP 2: weights 15.2737 GiB / 16 ranks = 0.95461 GiB
    # runtime 0.5 + 0.25 (TP group) + 0.25 (PP group) = 1.0
    # KV = 26.541 - 0.95461 - 1.0 (activation) - 1.0 = 23.58639 GiB
    # per token a rank holds ceil(36 / 2) = 18 layers x max(1, 8 // 8) = 1 KV head: 2 x 18 x 1 x 128 x 2 = 9,216 B
    # 23.58639 x 2**30 / (9,216 x 128) = 21,468.9 -> 21,468 blocks -> 2,747,904 tokens
    p = plan("Qwen3-8B", nodes=2, tp=8, pp=2)
    assert p.memory.weights_gib == pytest.approx(0.95461, abs=1e-5)
    assert p.memory.runtime_gib == pytest.approx(1.0)
    assert p.memory.kv_cache_gib == pytest.approx(23.58639, abs=1e-5)
    assert (p.kv_bytes_per_token, p.kv_cache_tokens) == (9_216, 2_747_904)
    assert (p.platform, p.npu_type, p.server) == (A2, B4, SERVER)
