"""Planner arithmetic, derived by hand. The hardware constants are spelled out here (not read from
hardware.yaml) so each expected number can be recomputed with a pencil:

    910B4: 29.49 GiB visible to torch_npu; reserves: activation 1.0 GiB, runtime 0.5 GiB + 0.25 GiB per
    HCCL group (TP group; MoE with expert parallel adds the EP group); KV block 128 tokens; 1 GiB = 2**30 B.

Model numbers come from the catalog (each checked against the model's config.json)."""

from __future__ import annotations

import pytest

from ascendgen.catalog import ModelSpec, load_catalog
from ascendgen.errors import PlanError
from ascendgen.hardware import NpuType, Platform, ServerProfile
from ascendgen.images import ImageChoice, ImageFlags, ImageSpec
from ascendgen.planner import (
    GIB,
    PlanOptions,
    kv_bytes_per_token,
    memory_per_npu,
    plan_deployment,
    tp_is_valid,
    valid_tp_sizes,
    weights_gib,
)

A2 = Platform(
    name="a2",
    dtypes=("bfloat16", "float16"),
    control_devices=("/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm"),
    npu_device="/dev/davinci{index}",
    driver_mounts=("/usr/local/dcmi",),
    kv_budget_factor=1.0,
    activation_reserve_gib=1.0,
    vision_activation_extra_gib=1.5,
    runtime_reserve_gib=0.5,
    hccl_reserve_gib=0.25,
)
P310 = A2.model_copy(
    update={"name": "310p", "dtypes": ("float16",), "kv_budget_factor": 0.5, "kv_budget_factor_since": "v0.18.0rc1"}
)
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
    assert "TP 2 is too small" in p.tp_reason


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
    m = model("Qwen3-8B").model_copy(update={"num_attention_heads": 24, "num_key_value_heads": 3})
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
    p = plan("Qwen2.5-VL-32B-Instruct")
    assert p.tensor_parallel_size == 4
    assert p.memory.activation_gib == pytest.approx(2.5)
    assert p.kv_bytes_per_token == 65_536
    assert p.kv_cache_tokens == 125_952
    assert p.max_model_len == 125_952
    assert p.max_model_len_reason.startswith("the KV cache capacity")
    with pytest.raises(PlanError, match="--max-model-len 128000 does not fit: the KV cache holds 125952 tokens"):
        plan("Qwen2.5-VL-32B-Instruct", tp=4, max_model_len=128_000)


def test_weights_that_do_not_fit_name_the_npus_needed() -> None:
    # Qwen2.5-72B-Instruct: 72.7e9 x 2 B = 135.41 GiB; TP 4: 33.85 > 26.54; TP 8: 16.93 fits
    with pytest.raises(PlanError, match=r"does not fit on 4 x 910B4: weights take 33.9 GiB .* it needs 8 x 910B4"):
        plan("Qwen2.5-72B-Instruct", npus=(0, 1, 2, 3))


def test_w8a8_keeps_embeddings_in_bf16() -> None:
    # DeepSeek-V3-W8A8: embeddings + lm_head = 2 x 129,280 x 7,168 = 1,853,358,080 params in bf16 (2 B),
    # the other 671e9 - 1.853e9 = 669,146,641,920 params in int8 (1 B)
    # bytes: 669,146,641,920 + 3,706,716,160 = 672,853,358,080 B = 626.64 GiB
    assert weights_gib(model("DeepSeek-V3-W8A8")) == pytest.approx(672_853_358_080 / GIB)


def test_310p_halves_the_kv_budget_only_from_v0_18() -> None:
    m = model("Qwen3-8B").model_copy(update={"dtype": "float16"})
    p310 = NpuType(name="310P3", memory_gib=43.24, visible_gib=43.24, platform="310p")
    old = memory_per_npu(m, p310, P310, 1, 0.9, "v0.9.2rc1")
    new = memory_per_npu(m, p310, P310, 1, 0.9, "v0.18.0rc1")
    # 43.24 x 0.9 - 15.2737 - 1.0 - 0.5 = 22.1423 GiB; halved from v0.18.0rc1: 11.0712
    assert old.kv_cache_gib == pytest.approx(22.1423, abs=1e-4)
    assert new.kv_cache_gib == pytest.approx(11.0712, abs=1e-4)


def test_bf16_model_on_310p_is_refused() -> None:
    p310 = NpuType(name="310P3", memory_gib=43.24, visible_gib=43.24, platform="310p")
    with pytest.raises(PlanError, match="bfloat16, which 310P3"):
        plan_deployment(model("Qwen3-8B"), npu=p310, platform=P310, server=SERVER, image=IMAGE, options=PlanOptions())


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
    spec = IMAGE.spec.model_copy(update={"flags": ImageFlags(pooling_runner=pooling_runner)})
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


def test_catalog_npu_counts_match_the_planner() -> None:
    """Every count the catalog records equals the planner's own minimum, with the shipped hardware."""
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images
    from ascendgen.planner import npus_needed

    hardware = load_hardware()
    newest = load_images()[-1]
    disagreements = []
    for m in load_catalog().models:
        for npu_name, recorded in m.npus.items():
            npu = hardware.npu_type(npu_name)
            platform = hardware.platform(npu.platform)
            needed = npus_needed(m, npu, platform, newest.gpu_memory_utilization_default, newest.tag)
            if needed != recorded:
                disagreements.append(f"{m.name} on {npu_name}: catalog {recorded}, planner {needed}")
    assert disagreements == []
