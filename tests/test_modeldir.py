"""Models planned from their directories (modeldir.py and `plan PATH`): small model directories built here,
config.json plus real safetensors headers over sparse zero data. Every expected number is derived by hand in a
comment beside it."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascendgen.catalog import load_catalog
from ascendgen.errors import InputError
from ascendgen.modeldir import read_model_dir, resolve_model, served_path_in
from ascendgen.planner import GIB, kv_bytes_per_token, weights_gib

from helpers import Run, make_model_dir, write_safetensors

BF16 = "BF16"


def qwen3_config(**changes: Any) -> dict[str, Any]:
    config = {
        "architectures": ["Qwen3ForCausalLM"],
        "model_type": "qwen3",
        "num_hidden_layers": 4,
        "hidden_size": 1024,
        "num_attention_heads": 16,
        "num_key_value_heads": 8,
        "head_dim": 128,
        "vocab_size": 1000,
        "max_position_embeddings": 40960,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0",
    }
    config.update(changes)
    return {k: v for k, v in config.items() if v is not None}


# 1000 x 1024 x 2 B = 2,048,000 B of embeddings + 32768 x 65536 x 2 B = 4 GiB = 4,297,015,296 B
TINY_TENSORS = {
    "model.embed_tokens.weight": (BF16, [1000, 1024]),
    "model.layers.0.mlp.down_proj.weight": (BF16, [32768, 65536]),
}
TINY_BYTES = 4_297_015_296


def tiny_gqa(root: Path, **changes: Any) -> Path:
    return make_model_dir(
        root / "me" / "Tiny-GQA",
        qwen3_config(**changes),
        {"model.safetensors": TINY_TENSORS},
        extra={"tokenizer_config.json": {"model_max_length": 32768}},
    )


# ------------------------------------------------------------------------------------ dense GQA


def test_gqa_model_from_its_files(tmp_path: Path) -> None:
    found = read_model_dir(tiny_gqa(tmp_path))
    spec = found.spec
    assert (spec.name, spec.hub_id, spec.architecture) == ("Tiny-GQA", "me/Tiny-GQA", "Qwen3ForCausalLM")
    assert (spec.kind, spec.attention, spec.num_layers, spec.hidden_size) == ("dense", "gqa", 4, 1024)
    assert (spec.num_attention_heads, spec.num_key_value_heads, spec.head_dim, spec.vocab_size) == (16, 8, 128, 1000)
    assert spec.weight_bytes == TINY_BYTES  # exact, from the header's data_offsets
    assert weights_gib(spec) == pytest.approx(4.001907, abs=1e-6)  # 4,297,015,296 / 2**30
    # min(40,960 in config.json, 32,768 in tokenizer_config.json): vLLM caps by the tokenizer's model_max_length
    assert spec.max_position_embeddings == 32768
    assert found.provenance["max_position_embeddings"].startswith("tokenizer_config.json model_max_length")
    assert found.provenance["num_layers"] == "config.json num_hidden_layers"
    assert found.provenance["weight_bytes"].startswith("safetensors headers of 1 file")
    assert spec.quantization is None and spec.serve_flags == () and spec.kv_cache_layers is None
    assert [Path(f).name for f in found.files_read] == ["config.json", "tokenizer_config.json", "model.safetensors"]
    assert found.notes == ()  # Qwen3ForCausalLM is in architectures.yaml
    # 2 (K, V) x 4 layers x 8 KV heads x 128 x 2 B = 16,384 B per token at TP 1
    assert kv_bytes_per_token(spec, 1) == 16_384


def test_absent_kv_heads_and_head_dim_take_the_transformers_defaults(tmp_path: Path) -> None:
    directory = make_model_dir(
        tmp_path / "m" / "mha",
        qwen3_config(num_key_value_heads=None, head_dim=None, architectures=["LlamaForCausalLM"]),
        {"model.safetensors": {"w": (BF16, [8, 8])}},
    )
    found = read_model_dir(directory)
    # no num_key_value_heads: as many KV heads as attention heads; no head_dim: 1024 / 16 = 64
    assert (found.spec.num_key_value_heads, found.spec.head_dim) == (16, 64)
    assert "no num_key_value_heads" in found.provenance["num_key_value_heads"]
    assert "no head_dim" in found.provenance["head_dim"]


@pytest.mark.parametrize(
    ("changes", "expected", "why"),
    [
        # the smallest of the length keys present
        ({"max_position_embeddings": 8192, "seq_length": 4096}, 4096, "seq_length"),
        # model_max_length wins over the others when set (Command-R)
        ({"max_position_embeddings": 8192, "model_max_length": 16384}, 16384, "model_max_length"),
        # dynamic / linear RoPE scaling multiplies by its factor: 8192 x 4
        ({"max_position_embeddings": 8192, "rope_scaling": {"rope_type": "dynamic", "factor": 4.0}}, 32768, "factor"),
        # yarn: original_max_position_embeddings x factor, whatever max_position_embeddings says: 4096 x 8
        (
            {
                "max_position_embeddings": 163840,
                "rope_scaling": {"type": "yarn", "factor": 8, "original_max_position_embeddings": 4096},
            },
            32768,
            "original_max_position_embeddings",
        ),
        # llama3 scaling is already in max_position_embeddings: not multiplied
        ({"max_position_embeddings": 131072, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}, 131072, "max_"),
        # Gemma 3's context is already scaled
        ({"model_type": "gemma3_text", "rope_scaling": {"rope_type": "linear", "factor": 8.0}}, 40960, "max_"),
    ],
)
def test_default_max_model_len_follows_vllm(tmp_path: Path, changes: dict[str, Any], expected: int, why: str) -> None:
    shards = {"model.safetensors": {"w": (BF16, [8])}}
    directory = make_model_dir(tmp_path / "m" / "ctx", qwen3_config(**changes), shards)
    found = read_model_dir(directory)
    assert found.spec.max_position_embeddings == expected
    assert why in found.provenance["max_position_embeddings"]


def test_float32_checkpoint_is_loaded_as_bfloat16(tmp_path: Path) -> None:
    directory = make_model_dir(
        tmp_path / "m" / "fp32",
        qwen3_config(torch_dtype="float32"),
        {"model.safetensors": {"w": ("F32", [1024, 1024])}},  # 4 MiB on disk
    )
    spec = read_model_dir(directory).spec
    assert spec.dtype == "bfloat16"
    assert spec.weight_bytes == 1024 * 1024 * 2  # 2 MiB in memory: each float32 weight loaded as 2 bytes


# ------------------------------------------------------------------------------- MoE and MLA


def moe_shards(experts: int, hidden: int, inter: int) -> dict[str, dict[str, tuple[str, list[int]]]]:
    first = {
        "model.embed_tokens.weight": (BF16, [1000, hidden]),
        "model.layers.0.self_attn.q_proj.weight": (BF16, [hidden, hidden]),
    }
    second = {
        f"model.layers.0.mlp.experts.{e}.{proj}.weight": (BF16, [inter, hidden])
        for e in range(experts)
        for proj in ("gate_proj", "up_proj", "down_proj")
    }
    second["model.layers.0.mlp.shared_experts.gate_proj.weight"] = (BF16, [inter, hidden])
    return {"model-00001-of-00002.safetensors": first, "model-00002-of-00002.safetensors": second}


def test_moe_active_parameters_from_the_expert_tensors(tmp_path: Path) -> None:
    config = qwen3_config(architectures=["Qwen3MoeForCausalLM"], num_experts=8, num_experts_per_tok=2)
    directory = make_model_dir(tmp_path / "m" / "moe", config, moe_shards(8, 1024, 512), index=True)
    found = read_model_dir(directory)
    spec = found.spec
    # elements: embeddings 1,024,000 + q_proj 1,048,576 + 8 experts x 3 x 512 x 1024 (12,582,912) + shared 524,288
    #   = 15,179,776 -> params_b 0.01518
    # active: all minus the routed experts a token skips: 15,179,776 - 12,582,912 x (1 - 2/8) = 5,742,592
    assert (spec.kind, spec.num_experts) == ("moe", 8)
    assert spec.params_b == pytest.approx(0.01518)
    assert spec.active_params_b == pytest.approx(0.005743)
    assert spec.weight_bytes == 15_179_776 * 2
    assert "routed experts" in found.provenance["active_params_b"]
    assert [Path(f).name for f in found.files_read][1:] == [
        "model.safetensors.index.json",
        "model-00001-of-00002.safetensors",
        "model-00002-of-00002.safetensors",
    ]


def deepseek_config(**changes: Any) -> dict[str, Any]:
    deepseek = {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "num_hidden_layers": 3,
        "hidden_size": 7168,
        "num_attention_heads": 128,
        "num_key_value_heads": 128,
        "head_dim": None,
        "vocab_size": 129280,
        "max_position_embeddings": 163840,
        "rope_scaling": {"type": "yarn", "factor": 40, "original_max_position_embeddings": 4096},
        "kv_lora_rank": 512,
        "qk_rope_head_dim": 64,
        "qk_nope_head_dim": 128,
        "v_head_dim": 128,
        "n_routed_experts": 4,
        "num_experts_per_tok": 2,
    }
    return qwen3_config(**{**deepseek, **changes})


def test_mla_model(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "ds" / "DeepSeek-Tiny", deepseek_config(), moe_shards(4, 64, 32))
    spec = read_model_dir(directory).spec
    assert spec.attention == "mla" and spec.mla is not None
    assert (spec.mla.kv_lora_rank, spec.mla.qk_rope_head_dim) == (512, 64)
    assert spec.head_dim == 128 + 64  # qk_nope_head_dim + qk_rope_head_dim, as the catalog writes it
    assert spec.max_position_embeddings == 4096 * 40  # yarn: original 4,096 x factor 40 = 163,840
    # MLA: 3 layers x (512 latent + 64 rope) x 2 B = 3,456 B per token, not split by TP
    assert kv_bytes_per_token(spec, 1) == kv_bytes_per_token(spec, 8) == 3_456
    assert spec.kind == "moe" and spec.num_experts == 4


def test_mla_needs_all_its_dimensions(tmp_path: Path) -> None:
    directory = make_model_dir(
        tmp_path / "ds" / "broken", deepseek_config(v_head_dim=None), {"model.safetensors": {"w": (BF16, [8])}}
    )
    with pytest.raises(InputError, match=r"config\.json: v_head_dim is missing"):
        read_model_dir(directory)


# ---------------------------------------------------------------------------- vision, hybrid


def qwen3_vl_config() -> dict[str, Any]:
    text = {k: v for k, v in qwen3_config().items() if k not in ("architectures", "transformers_version")}
    text.update(model_type="qwen3_vl_moe_text", num_experts=4, num_experts_per_tok=2, max_position_embeddings=262144)
    return {
        "architectures": ["Qwen3VLMoeForConditionalGeneration"],
        "model_type": "qwen3_vl_moe",
        "text_config": text,
        "vision_config": {"depth": 2, "hidden_size": 64},
        "transformers_version": "4.57.0.dev0",
    }


def test_vision_model_reads_its_text_config(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "Qwen" / "VL-Tiny", qwen3_vl_config(), moe_shards(4, 1024, 64))
    found = read_model_dir(directory)
    spec = found.spec
    assert spec.vision is True and spec.kind == "moe" and spec.num_layers == 4
    assert spec.max_position_embeddings == 262144
    assert found.provenance["num_layers"] == "config.json text_config.num_hidden_layers"
    # architectures.yaml: Qwen3-VL needs transformers >= 4.57.0 and image v0.11.0rc3; the first image known to ship
    # transformers >= 4.57.0 is v0.11.0 (4.57.1), the later of the two
    assert spec.min_transformers == "4.57.0"
    assert spec.min_image == "v0.11.0"
    assert "transformers >= 4.57.0" in found.provenance["min_image"]


def test_image_too_old_for_the_architecture_is_named(run: Run, tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "models" / "Qwen" / "VL-Tiny", qwen3_vl_config(), moe_shards(4, 1024, 64))
    common = ["--models-dir", str(tmp_path / "models"), "--dry-run", "--json"]
    chosen = run("plan", str(directory), *common)
    assert chosen.exit_code == 0, chosen.stderr
    assert not any("needs image" in w for w in chosen.json()["warnings"])  # the newest stable image is chosen
    old = run("plan", str(directory), *common, "--image", "v0.9.2rc1")
    assert old.exit_code == 0, old.stderr
    assert any("needs image v0.11.0 or newer (transformers >= 4.57.0)" in w for w in old.json()["warnings"])


def qwen3_next_config(**changes: Any) -> dict[str, Any]:
    return qwen3_config(
        architectures=["Qwen3NextForCausalLM"],
        model_type="qwen3_next",
        num_hidden_layers=8,
        num_key_value_heads=2,
        head_dim=256,
        num_experts=4,
        num_experts_per_tok=2,
        **changes,
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"layer_types": ["linear_attention"] * 3 + ["full_attention"] + ["linear_attention"] * 3 + ["full_attention"]},
        {"full_attention_interval": 4},
        {},  # Qwen3NextConfig's default interval is 4
    ],
)
def test_hybrid_model_counts_only_full_attention_layers(tmp_path: Path, changes: dict[str, Any]) -> None:
    directory = make_model_dir(tmp_path / "Qwen" / "Next-Tiny", qwen3_next_config(**changes), moe_shards(4, 1024, 64))
    found = read_model_dir(directory)
    # 8 layers, every 4th full attention: 2 layers keep a KV cache growing with the context
    assert found.spec.kv_cache_layers == 2
    # 2 (K, V) x 2 layers x 2 KV heads x 256 x 2 B = 4,096 B per token (all 8 layers would be 16,384)
    assert kv_bytes_per_token(found.spec, 1) == 4_096
    assert "linear-attention" in found.provenance["kv_cache_layers"]


def test_hybrid_layer_types_must_cover_every_layer(tmp_path: Path) -> None:
    config = qwen3_next_config(layer_types=["linear_attention", "full_attention"])
    directory = make_model_dir(tmp_path / "Qwen" / "Next-Broken", config, moe_shards(4, 64, 8))
    with pytest.raises(InputError, match=r"layer_types lists 2 layers but num_hidden_layers is 8"):
        read_model_dir(directory)


def test_sliding_window_layers_count_in_full_and_say_so(tmp_path: Path) -> None:
    config = qwen3_config(layer_types=["sliding_attention", "full_attention"] * 2, sliding_window=4096)
    directory = make_model_dir(tmp_path / "g" / "swa", config, {"model.safetensors": {"w": (BF16, [8])}})
    found = read_model_dir(directory)
    assert found.spec.kv_cache_layers is None  # every layer counted: conservative
    assert any("sliding-window layers are counted" in n for n in found.notes)


# ------------------------------------------------------------------------------- quantized builds


def w8a8_build(root: Path, description: dict[str, Any], **config_changes: Any) -> Path:
    tensors = {
        "model.embed_tokens.weight": (BF16, [1000, 1024]),  # 2,048,000 B
        "model.layers.0.self_attn.q_proj.weight": ("I8", [2048, 1024]),  # 2,097,152 B
        "model.layers.0.self_attn.q_proj.deq_scale": ("F32", [2048]),  # 8,192 B
    }
    return make_model_dir(
        root / "vllm-ascend" / "Tiny-W8A8",
        qwen3_config(**config_changes),
        {"quant_model_weight_w8a8.safetensors": tensors},
        extra={"quant_model_description.json": description},
    )


W8A8_DESCRIPTION = {
    "model_quant_type": "W8A8_DYNAMIC",
    "model.embed_tokens.weight": "FLOAT",
    "model.layers.0.self_attn.q_proj.weight": "W8A8_DYNAMIC",
    "lm_head.weight": "FLOAT",
}


def test_modelslim_w8a8_build(tmp_path: Path) -> None:
    found = read_model_dir(w8a8_build(tmp_path, W8A8_DESCRIPTION))
    spec = found.spec
    assert spec.quantization == "w8a8"
    assert spec.serve_flags == ("--quantization=ascend",)
    assert spec.weight_bytes == 2_048_000 + 2_097_152 + 8_192  # as stored: int8 weights, bf16 embeddings
    assert spec.kv_cache_dtype is None
    assert "quant_model_description.json" in [Path(f).name for f in found.files_read]


def test_c8_build_has_an_int8_kv_cache(tmp_path: Path) -> None:
    description = {
        **W8A8_DESCRIPTION,
        "kv_cache_type": "C8",
        **{f"model.layers.{i}.self_attn.k_proj.kv_cache_scale": "W8A8_DYNAMIC" for i in range(4)},
    }
    spec = read_model_dir(w8a8_build(tmp_path, description)).spec
    assert spec.kv_cache_dtype == "int8"
    assert spec.min_image == "v0.19.1rc1"  # the first image with C8 for GQA models
    # 2 x 4 layers x 8 KV heads x 128 x 1 B = 8,192 B per token, half the bf16 cache
    assert kv_bytes_per_token(spec, 1) == 8_192


def test_c8_on_some_layers_only_keeps_the_model_dtype(tmp_path: Path) -> None:
    description = {**W8A8_DESCRIPTION, "kv_cache_type": "C8", "model.layers.0.self_attn.k_proj.kv_cache_scale": "x"}
    found = read_model_dir(w8a8_build(tmp_path, description))
    assert found.spec.kv_cache_dtype is None
    assert any("C8) of 1 of 4 layers" in n for n in found.notes)


def test_w4a8_build_needs_an_image_with_the_scheme(tmp_path: Path) -> None:
    description = {"model_quant_type": "W4A8_DYNAMIC", "model.layers.0.mlp.experts.0.up_proj.weight": "W4A8_DYNAMIC"}
    spec = read_model_dir(w8a8_build(tmp_path, description)).spec
    assert spec.quantization == "w4a8"
    assert spec.min_image == "v0.10.0rc1"


@pytest.mark.parametrize(
    ("layer_type", "message"),
    [
        ("W8A8_MXFP8", "Ascend 950"),
        ("W8A8FP8_DYNAMIC", "Ascend 950"),
        ("W8A8SC", "Atlas 300I Duo"),
        ("W9A9", "not one ascendgen knows"),
    ],
)
def test_modelslim_types_ascendgen_does_not_plan_are_refused(tmp_path: Path, layer_type: str, message: str) -> None:
    description = {"model.layers.0.self_attn.q_proj.weight": layer_type}
    expected = rf"quant_model_description\.json: quantization type '{layer_type}'.*{message}"
    with pytest.raises(InputError, match=expected):
        read_model_dir(w8a8_build(tmp_path, description))


def test_compressed_tensors_int8_is_served_without_a_flag(tmp_path: Path) -> None:
    scheme = {
        "weights": {"num_bits": 8, "type": "int"},
        "input_activations": {"num_bits": 8, "type": "int", "dynamic": True},
    }
    config = qwen3_config(quantization_config={"quant_method": "compressed-tensors", "config_groups": {"g": scheme}})
    directory = make_model_dir(tmp_path / "m" / "ct", config, {"model.safetensors": {"w": ("I8", [8])}})
    spec = read_model_dir(directory).spec
    assert spec.quantization == "w8a8" and spec.serve_flags == ()
    assert spec.min_image == "v0.12.0rc1"


FP8_WEIGHTS = {"num_bits": 8, "type": "float"}


@pytest.mark.parametrize(
    ("quantization_config", "message"),
    [
        ({"quant_method": "awq", "bits": 4}, "AWQ is a CUDA format"),
        ({"quant_method": "gptq_marlin", "bits": 4}, "CUDA Marlin kernels"),
        ({"quant_method": "bitsandbytes"}, "bitsandbytes is a CUDA library"),
        ({"quant_method": "fp8", "weight_block_size": [128, 128]}, "have no FP8"),
        ({"quant_method": "modelopt_fp4"}, "NVFP4"),
        ({"quant_method": "exl2"}, "not a method vllm-ascend serves"),
        (
            {"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": FP8_WEIGHTS}}},
            "FP8 runs on Ascend 950 NPUs only",
        ),
    ],
)
def test_cuda_only_quantization_is_refused_before_anything_is_pulled(
    tmp_path: Path, quantization_config: dict[str, Any], message: str
) -> None:
    config = qwen3_config(quantization_config=quantization_config)
    directory = make_model_dir(tmp_path / "m" / "cuda", config, {"model.safetensors": {"w": ("I32", [8])}})
    with pytest.raises(InputError, match=rf"config\.json: quantization_config.*{message}"):
        read_model_dir(directory)


def test_modelopt_build_is_refused(tmp_path: Path) -> None:
    directory = make_model_dir(
        tmp_path / "m" / "nv", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}},
        extra={"hf_quant_config.json": {"quantization": {"quant_algo": "FP8"}}},
    )  # fmt: skip
    with pytest.raises(InputError, match=r"hf_quant_config\.json: NVIDIA ModelOpt"):
        read_model_dir(directory)


# --------------------------------------------------------------------------- refused directories


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_attention_heads": None}, r"config\.json: num_attention_heads is missing"),
        ({"num_key_value_heads": 3}, r"num_key_value_heads 3 does not divide num_attention_heads 16"),
        ({"num_hidden_layers": True}, r"num_hidden_layers must be a positive whole number, not True"),
        ({"vocab_size": "1000"}, r"vocab_size must be a positive whole number, not '1000'"),
        ({"architectures": None}, r"architectures is missing"),
        ({"torch_dtype": "float8_e4m3fn"}, r"torch_dtype 'float8_e4m3fn' is not a dtype ascendgen plans"),
        ({"max_position_embeddings": None}, r"max_position_embeddings is missing"),
        ({"architectures": ["Llama4ForConditionalGeneration"]}, r"does not run Llama 4 .*#1972"),
    ],
)
def test_broken_config_is_refused_naming_the_field(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    directory = tiny_gqa(tmp_path, **changes)
    with pytest.raises(InputError, match=message) as caught:
        read_model_dir(directory)
    assert str(directory / "config.json") in str(caught.value) and "\n" not in str(caught.value)


def test_config_that_is_not_json_names_the_line(tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path)
    (directory / "config.json").write_text('{\n  "num_hidden_layers": 4,\n  oops\n}', encoding="utf-8")
    with pytest.raises(InputError, match=r"config\.json:3: not valid JSON"):
        read_model_dir(directory)


def test_missing_shard_is_named(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "m" / "moe", qwen3_config(), moe_shards(2, 64, 8), index=True)
    (directory / "model-00002-of-00002.safetensors").unlink()
    with pytest.raises(InputError, match=r"1 of 2 shards are missing: model-00002-of-00002\.safetensors"):
        read_model_dir(directory)


def test_index_total_size_must_match_the_shards(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "m" / "moe", qwen3_config(), moe_shards(2, 64, 8), index=True)
    index = directory / "model.safetensors.index.json"
    content = json.loads(index.read_text())
    content["metadata"]["total_size"] *= 2
    index.write_text(json.dumps(content))
    with pytest.raises(InputError, match=r"metadata\.total_size .* disagrees with the"):
        read_model_dir(directory)


def test_index_naming_a_path_outside_the_directory_is_refused(tmp_path: Path) -> None:
    directory = make_model_dir(tmp_path / "m" / "x", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    (directory / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "../../etc/passwd"}}))
    with pytest.raises(InputError, match=r"weight_map names '\.\./\.\./etc/passwd', not a file in the model"):
        read_model_dir(directory)


def test_truncated_shard_is_refused(tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path)
    shard = directory / "model.safetensors"
    with shard.open("r+b") as handle:
        handle.truncate(shard.stat().st_size - 1)
    with pytest.raises(InputError, match=r"model\.safetensors: truncated: its header promises"):
        read_model_dir(directory)


def test_absurd_header_length_is_refused_without_reading_it(tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path)
    (directory / "model.safetensors").write_bytes((200 * 1024**2).to_bytes(8, "little") + b"{}")
    with pytest.raises(InputError, match=r"header length 209,715,200 bytes is over 100 MiB"):
        read_model_dir(directory)


def test_header_contradicting_its_offsets_is_refused(tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path)
    header = json.dumps({"w": {"dtype": "BF16", "shape": [4, 4], "data_offsets": [0, 8]}}).encode()
    (directory / "model.safetensors").write_bytes(len(header).to_bytes(8, "little") + header + bytes(8))
    with pytest.raises(InputError, match=r"tensor 'w': shape \[4, 4\] of BF16 is 32 bytes but data_offsets span 8"):
        read_model_dir(directory)


def test_no_safetensors_is_refused(tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path)
    (directory / "model.safetensors").rename(directory / "pytorch_model.bin")
    with pytest.raises(InputError, match=r"no \*\.safetensors weights"):
        read_model_dir(directory)


def test_unknown_architecture_is_planned_with_a_warning(tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path, architectures=["SeedOssForCausalLM"], transformers_version="4.56.0")
    found = read_model_dir(directory)
    assert any("SeedOssForCausalLM is not in ascendgen's architecture table" in n for n in found.notes)
    # config.json's transformers_version is the lower bound: the first image with transformers >= 4.56.0 is
    # v0.11.0rc0 (4.56.2)
    assert (found.spec.min_transformers, found.spec.min_image) == ("4.56.0", "v0.11.0rc0")


# ------------------------------------------------------------------------------------ resolution


def test_directory_must_be_inside_the_models_dir(tmp_path: Path) -> None:
    models = tmp_path / "models"
    models.mkdir()
    elsewhere = tiny_gqa(tmp_path / "elsewhere")
    with pytest.raises(InputError, match=r"not inside --models-dir .*: move it under .*, or pass --models-dir .*/me"):
        served_path_in(elsewhere, str(models))
    (models / "link").symlink_to(elsewhere)
    with pytest.raises(InputError, match=r"outside --models-dir"):
        served_path_in(models / "link", str(models))
    assert served_path_in(tiny_gqa(models), str(models)) == "me/Tiny-GQA"


def test_catalog_model_with_matching_files_stays_the_catalogs(tmp_path: Path) -> None:
    catalog = load_catalog()
    entry = catalog.get("Qwen3-8B")
    # Qwen3-8B's config.json numbers; 8.2e9 parameters x 2 B = 16.4e9 B in one sparse shard
    config = qwen3_config(num_hidden_layers=36, hidden_size=4096, num_attention_heads=32, vocab_size=151936)
    make_model_dir(tmp_path / "Qwen" / "Qwen3-8B", config, {"model.safetensors": {"w": (BF16, [8_200_000, 1000])}})
    found = resolve_model("Qwen3-8B", catalog, str(tmp_path))
    assert found.source == "catalog" and found.spec == entry and found.notes == ()
    assert found.files_read  # the files were read to compare


def test_catalog_model_whose_files_differ_is_planned_from_them(tmp_path: Path) -> None:
    catalog = load_catalog()
    config = qwen3_config(num_hidden_layers=28, hidden_size=4096, num_attention_heads=32, vocab_size=151936)
    make_model_dir(tmp_path / "Qwen" / "Qwen3-8B", config, {"model.safetensors": {"w": (BF16, [8_200_000, 1000])}})
    found = resolve_model("Qwen3-8B", catalog, str(tmp_path))
    assert found.source == "files"
    assert found.spec.num_layers == 28 and found.spec.name == "Qwen3-8B" and found.spec.npus  # catalog fields stay
    (note,) = found.notes
    assert "differ from the catalog's Qwen3-8B: num_layers 28 (catalog 36)" in note


def test_catalog_model_whose_directory_holds_no_weights_yet_stays_the_catalogs(tmp_path: Path) -> None:
    """A download in progress (config.json, no safetensors): the catalog plans it, and the plan says why."""
    directory = tmp_path / "Qwen" / "Qwen3-8B"
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(qwen3_config(num_hidden_layers=36)))
    found = resolve_model("Qwen3-8B", load_catalog(), str(tmp_path))
    assert found.source == "catalog" and found.spec == load_catalog().get("Qwen3-8B")
    (note,) = found.notes
    assert note.startswith(f"planned from the catalog: the files in {directory} could not be read (")
    assert "no *.safetensors weights" in note


def test_catalog_model_without_a_directory(tmp_path: Path) -> None:
    found = resolve_model("Qwen3-8B", load_catalog(), str(tmp_path))
    assert found.source == "catalog" and found.files_read == ()


# ------------------------------------------------------------------------------------------ CLI


def test_plan_path_dry_run_json(run: Run, tmp_path: Path) -> None:
    models = tmp_path / "models"
    directory = tiny_gqa(models)
    result = run("plan", str(directory), "--models-dir", str(models), "--image", "v0.9.2rc1", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["source"] == "files"
    assert [Path(f).name for f in data["files_read"]] == ["config.json", "tokenizer_config.json", "model.safetensors"]
    assert data["model"] == "Tiny-GQA" and data["served_model_name"] == "me/Tiny-GQA"
    assert data["model_path"] == data["serve_args"][0] == "/models/me/Tiny-GQA"
    # weights 4,297,015,296 B = 4.0019 GiB on 1 NPU (TP 1: the smallest valid TP that fits)
    # usable 29.49 GiB x 0.9 (v0.9.2rc1's default) = 26.541; KV = 26.541 - 4.0019 - 1.0 - 0.5 = 21.0391 GiB
    # KV per token 2 x 4 x 8 x 128 x 2 = 16,384 B; a block of 128 = 2 MiB; 21.0391 GiB / 2 MiB = 10,772.02 blocks
    #   -> 10,772 x 128 = 1,378,816 tokens; max-model-len = min(32,768 context, 1,378,816) = 32,768
    assert data["tensor_parallel_size"] == 1
    assert data["weights_gib_per_npu"] == 4.0
    assert data["kv_bytes_per_token"] == 16_384
    assert data["kv_cache_gib_per_npu"] == 21.04
    assert data["kv_cache_tokens"] == 1_378_816
    assert data["max_model_len"] == 32_768
    assert pytest.approx(4.0019, abs=1e-4) == TINY_BYTES / GIB


def test_plan_path_outside_models_dir_is_refused(run: Run, tmp_path: Path) -> None:
    directory = tiny_gqa(tmp_path / "downloads")
    out = tmp_path / "out"
    result = run("plan", str(directory), "--models-dir", str(tmp_path / "models"), "--out", str(out))
    assert result.exit_code == 2
    assert "is not inside --models-dir" in result.stderr and "or pass --models-dir" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not out.exists()


def test_plan_path_writes_a_recipe_that_check_reproduces(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    models = tmp_path / "models"
    tiny_gqa(models)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "deploy"
    result = run("plan", "models/me/Tiny-GQA", "--models-dir", str(models), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    text = (out / "compose.yml").read_text()
    assert f"ascendgen plan {models}/me/Tiny-GQA" in text  # the directory recorded as an absolute path
    (service,) = yaml.safe_load(text)["services"].values()
    assert service["command"][:2] == ["serve", "/models/me/Tiny-GQA"]
    monkeypatch.chdir(out)  # check from another directory finds the model
    checked = run("check")
    assert checked.exit_code == 0, checked.stderr + checked.stdout


def test_catalog_name_with_files_that_differ_warns(run: Run, tmp_path: Path) -> None:
    config = qwen3_config(num_hidden_layers=28, hidden_size=4096, num_attention_heads=32, vocab_size=151936)
    make_model_dir(tmp_path / "Qwen" / "Qwen3-8B", config, {"model.safetensors": {"w": (BF16, [8_200_000, 1000])}})
    result = run("plan", "Qwen3-8B", "--models-dir", str(tmp_path), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["source"] == "files"
    assert any("num_layers 28 (catalog 36)" in w for w in data["warnings"])
    # 2 x 28 layers x 8 KV heads x 128 x 2 B = 114,688 B per token (the catalog's 36 layers would give 147,456)
    assert data["kv_bytes_per_token"] == 114_688


def test_folder_named_like_a_catalog_model_outside_models_dir_says_how_to_plan_the_catalogs(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_model_dir(tmp_path / "Qwen3-8B", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    monkeypatch.chdir(tmp_path)
    result = run("plan", "Qwen3-8B", "--models-dir", str(tmp_path / "models"), "--dry-run")
    assert result.exit_code == 2
    assert "to plan the catalog's Qwen3-8B instead, run ascendgen from a directory without" in result.stderr


# ------------------------------------------------------------------------------------ read once, read again


def test_a_directory_is_read_again_when_anything_it_was_read_from_changes(tmp_path: Path) -> None:
    # `check` of many files keeps what a directory gave (modeldir._READ); a change to any file read from it, or to
    # the files it holds, must be read anew, never the kept answer
    directory = tiny_gqa(tmp_path)
    first = read_model_dir(directory)
    assert read_model_dir(directory) is first  # kept
    config = directory / "config.json"
    before = config.stat()
    config.write_text(config.read_text().replace('"num_hidden_layers": 4', '"num_hidden_layers": 2'))
    assert config.stat().st_size == before.st_size and config.stat().st_ino == before.st_ino  # only its contents
    os.utime(config, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))  # a clock tick later, at least
    assert read_model_dir(directory).spec.num_layers == 2
    # a shard added beside the one read (no index: vLLM loads every *.safetensors): the directory changes
    write_safetensors(directory / "model-2.safetensors", {"model.layers.1.mlp.down_proj.weight": (BF16, [1024, 1024])})
    os.utime(directory, ns=(before.st_atime_ns, directory.stat().st_mtime_ns + 1_000_000))
    assert read_model_dir(directory).spec.weight_bytes == TINY_BYTES + 1024 * 1024 * 2
    # the same directory under another name is another model, with its own name
    twin = tmp_path / "me" / "Tiny-Twin"
    twin.symlink_to(directory)
    assert read_model_dir(twin).spec.name == "Tiny-Twin"
    assert read_model_dir(directory).spec.name == "Tiny-GQA"
    # and a directory that is no longer readable is refused, not answered from what it held
    config.unlink()
    with pytest.raises(InputError, match=r"no config\.json"):
        read_model_dir(directory)


# ------------------------------------------------------------------ each config.json key, each refusal exactly


def refusal(directory: Path) -> str:
    """The refusal read_model_dir gives, with the directory written as D."""
    with pytest.raises(InputError) as caught:
        read_model_dir(directory)
    return str(caught.value).replace(str(directory), "D")


def one_tensor(root: Path, config: dict[str, Any], dtype: str = BF16, name: str = "m") -> Path:
    return make_model_dir(root / "me" / name, config, {"model.safetensors": {"w": (dtype, [8])}})


@pytest.mark.parametrize(
    ("primary", "alternative", "field"),
    [
        ("num_hidden_layers", "num_layers", "num_layers"),
        ("num_hidden_layers", "n_layer", "num_layers"),
        ("hidden_size", "n_embd", "hidden_size"),
        ("hidden_size", "d_model", "hidden_size"),
        ("num_attention_heads", "n_head", "num_attention_heads"),
    ],
)
def test_each_alternative_key_gives_the_number(tmp_path: Path, primary: str, alternative: str, field: str) -> None:
    value = qwen3_config()[primary]
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(**{primary: None, alternative: value})))
    assert getattr(found.spec, field) == value
    assert found.provenance[field] == f"config.json {alternative}"


@pytest.mark.parametrize("key", ["num_kv_heads", "n_head_kv", "multi_query_group_num"])
def test_each_kv_head_key_gives_the_kv_heads(tmp_path: Path, key: str) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(num_key_value_heads=None, **{key: 4})))
    assert found.spec.num_key_value_heads == 4
    assert found.provenance["num_key_value_heads"] == f"config.json {key}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_hidden_layers": None}, "num_hidden_layers is missing (decoder layers)"),
        ({"hidden_size": None}, "hidden_size is missing (hidden size)"),
        ({"num_attention_heads": None}, "num_attention_heads is missing (attention heads)"),
        ({"vocab_size": None}, "vocab_size is missing (vocabulary size)"),
    ],
)
def test_missing_count_is_refused_word_for_word(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    assert refusal(one_tensor(tmp_path, qwen3_config(**changes))) == (
        f"D/config.json: {message}; ascendgen needs it to size the model"
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_hidden_layers": 0}, "num_hidden_layers must be a positive whole number, not 0"),
        ({"hidden_size": -1}, "hidden_size must be a positive whole number, not -1"),
        ({"num_hidden_layers": 4.0}, "num_hidden_layers must be a positive whole number, not 4.0"),
        (
            {"num_key_value_heads": 32},
            "num_key_value_heads 32 does not divide num_attention_heads 16: the file contradicts itself",
        ),
        ({"num_key_value_heads": 0}, "num_key_value_heads must be a positive whole number, not 0"),
        (
            {"head_dim": None, "hidden_size": 1000},
            "head_dim is missing and hidden_size 1000 is not a multiple of num_attention_heads 16",
        ),
        ({"architectures": []}, 'architectures is missing (a list naming the model class, e.g. ["Qwen3ForCausalLM"])'),
        (
            {"architectures": [""]},
            'architectures is missing (a list naming the model class, e.g. ["Qwen3ForCausalLM"])',
        ),
        ({"architectures": [7]}, 'architectures is missing (a list naming the model class, e.g. ["Qwen3ForCausalLM"])'),
        (
            {"architectures": "Qwen3ForCausalLM"},
            'architectures is missing (a list naming the model class, e.g. ["Qwen3ForCausalLM"])',
        ),
    ],
)
def test_bad_numbers_are_refused_word_for_word(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    assert refusal(one_tensor(tmp_path, qwen3_config(**changes))) == f"D/config.json: {message}"


def test_kv_heads_equal_to_heads_is_mha_and_a_divisor_is_accepted(tmp_path: Path) -> None:
    mha = read_model_dir(one_tensor(tmp_path, qwen3_config(num_key_value_heads=16), name="a")).spec
    assert mha.num_key_value_heads == 16
    one = read_model_dir(one_tensor(tmp_path, qwen3_config(num_key_value_heads=1), name="b")).spec
    assert one.num_key_value_heads == 1
    # no head_dim: 1024 / 16 = 64 (a multiple: accepted, and // not /)
    derived = read_model_dir(one_tensor(tmp_path, qwen3_config(head_dim=None), name="c"))
    assert derived.spec.head_dim == 64 and isinstance(derived.spec.head_dim, int)
    assert derived.provenance["head_dim"] == "= hidden_size / num_attention_heads: config.json has no head_dim"
    assert derived.provenance["attention"] == "config.json has no kv_lora_rank (not MLA)"


@pytest.mark.parametrize("text_key", ["text_config", "language_config", "llm_config"])
def test_each_text_config_key_is_read_first(tmp_path: Path, text_key: str) -> None:
    config = qwen3_config(num_hidden_layers=2, hidden_size=2048)
    config[text_key] = {"num_hidden_layers": 6, "hidden_size": None, "max_position_embeddings": 8192}
    found = read_model_dir(one_tensor(tmp_path, config))
    # the text config's 6 layers, the top level's hidden size where the text config's is null
    assert (found.spec.num_layers, found.spec.hidden_size) == (6, 2048)
    assert found.provenance["num_layers"] == f"config.json {text_key}.num_hidden_layers"
    assert found.provenance["hidden_size"] == "config.json hidden_size"
    assert found.spec.max_position_embeddings == 8192
    assert found.provenance["max_position_embeddings"] == (
        f"config.json {text_key}.max_position_embeddings (vLLM's default max_model_len)"
    )
    assert found.spec.vision is True
    assert found.provenance["vision"] == f"config.json {text_key}"


def test_a_text_config_that_is_not_a_mapping_is_not_one(tmp_path: Path) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(text_config="x", vision_config={"depth": 2})))
    assert found.spec.vision is True
    assert found.provenance["vision"] == "config.json vision_config"
    assert found.provenance["num_layers"] == "config.json num_hidden_layers"
    plain = read_model_dir(one_tensor(tmp_path, qwen3_config(), name="plain"))
    assert plain.spec.vision is False and "vision" not in plain.provenance


# ----------------------------------------------------------------------------------- max_model_len


@pytest.mark.parametrize(
    "key",
    ["n_positions", "max_seq_len", "seq_length", "model_max_length", "max_target_positions",
     "max_sequence_length", "max_seq_length", "seq_len"],
)  # fmt: skip
def test_each_length_key_alone_gives_the_context(tmp_path: Path, key: str) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(max_position_embeddings=None, **{key: 6144})))
    assert found.spec.max_position_embeddings == 6144
    assert found.provenance["max_position_embeddings"] == f"config.json {key} (vLLM's default max_model_len)"


def test_length_as_a_whole_float_is_taken(tmp_path: Path) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(max_position_embeddings=8192.0)))
    assert found.spec.max_position_embeddings == 8192


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"max_position_embeddings": 8192.5}, "max_position_embeddings must be a positive whole number, not 8192.5"),
        ({"max_position_embeddings": 0}, "max_position_embeddings must be a positive whole number, not 0"),
        (
            {"max_position_embeddings": None},
            "max_position_embeddings is missing (nor any of n_positions, max_seq_len, "
            "seq_length, model_max_length, max_target_positions, max_sequence_length, max_seq_length, seq_len): "
            "ascendgen cannot tell the model's context length",
        ),
        ({"rope_scaling": {"type": "dynamic", "factor": 0}}, "rope factor must be a positive number, not 0"),
        ({"rope_scaling": {"type": "dynamic", "factor": True}}, "rope factor must be a positive number, not True"),
        ({"rope_scaling": {"type": "dynamic", "factor": "2"}}, "rope factor must be a positive number, not '2'"),
        ({"rope_scaling": {"type": "yarn", "factor": 4}}, "yarn rope scaling without original_max_position_embeddings"),
    ],
)
def test_bad_lengths_are_refused_word_for_word(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    assert refusal(one_tensor(tmp_path, qwen3_config(**changes))) == f"D/config.json: {message}"


@pytest.mark.parametrize(
    ("limit", "expected", "why"),
    [
        (4096, 4096, "tokenizer_config.json model_max_length"),
        (4096.0, 4096, "tokenizer_config.json model_max_length"),
        (40959, 40959, "tokenizer_config.json model_max_length"),
        (40960, 40960, "config.json max_position_embeddings"),  # not smaller: config.json's stays
        (1e30, 40960, "config.json max_position_embeddings"),  # the tokenizer's "no limit"
        (0, 40960, "config.json max_position_embeddings"),
        (True, 40960, "config.json max_position_embeddings"),
        ("4096", 40960, "config.json max_position_embeddings"),
    ],
)
def test_tokenizer_caps_the_length_only_with_a_smaller_number(
    tmp_path: Path, limit: Any, expected: int, why: str
) -> None:
    directory = make_model_dir(
        tmp_path / "me" / "m", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}},
        extra={"tokenizer_config.json": {"model_max_length": limit}},
    )  # fmt: skip
    found = read_model_dir(directory)
    assert found.spec.max_position_embeddings == expected
    assert found.provenance["max_position_embeddings"] == f"{why} (vLLM's default max_model_len)"


@pytest.mark.parametrize(
    ("changes", "expected", "why"),
    [
        ({"max_position_embeddings": 8192, "rope_scaling": {"type": "linear", "factor": 4}}, 32768,
         "config.json max_position_embeddings x rope factor 4"),
        ({"max_position_embeddings": 8192, "rope_scaling": {"rope_type": "dynamic", "factor": 1.5}}, 12288,
         "config.json max_position_embeddings x rope factor 1.5"),
        # no type: the default scaling still multiplies by its factor
        ({"max_position_embeddings": 8192, "rope_scaling": {"factor": 2}}, 16384,
         "config.json max_position_embeddings x rope factor 2"),
        # factor 1: no change, no 'x rope factor'
        ({"max_position_embeddings": 8192, "rope_scaling": {"type": "linear", "factor": 1}}, 8192,
         "config.json max_position_embeddings"),
        ({"max_position_embeddings": 8192, "rope_scaling": {"type": "su", "factor": 4}}, 8192,
         "config.json max_position_embeddings"),
        # rope_parameters, read before rope_scaling
        ({"max_position_embeddings": 8192, "rope_parameters": {"rope_type": "linear", "factor": 2},
          "rope_scaling": {"rope_type": "linear", "factor": 8}}, 16384,
         "config.json max_position_embeddings x rope factor 2"),
        # transformers 5: one dict per layer type
        ({"max_position_embeddings": 8192, "rope_parameters": {"full_attention": {"rope_type": "linear", "factor": 2},
          "sliding_attention": {"rope_type": "default"}}}, 16384,
         "config.json max_position_embeddings x rope factor 2"),
        # yarn: the original length x factor
        ({"max_position_embeddings": 131072, "rope_scaling": {"rope_type": "yarn", "factor": 4.0,
          "original_max_position_embeddings": 32768.0}}, 131072,
         "config.json rope original_max_position_embeddings x rope factor 4"),
        # LongRoPE: the original length (top-level key), factor ignored
        ({"max_position_embeddings": 131072, "original_max_position_embeddings": 4096,
          "rope_scaling": {"type": "longrope", "factor": 32}}, 4096, "config.json original_max_position_embeddings"),
        ({"max_position_embeddings": 131072, "rope_scaling": {"type": "longrope", "factor": 32}}, 131072,
         "config.json max_position_embeddings"),
        # an empty dict or a non-dict scales nothing
        ({"max_position_embeddings": 8192, "rope_scaling": {}}, 8192, "config.json max_position_embeddings"),
        ({"max_position_embeddings": 8192, "rope_scaling": "linear"}, 8192, "config.json max_position_embeddings"),
        # model_max_length wins even when larger than the smallest key
        ({"max_position_embeddings": 8192, "seq_length": 2048, "model_max_length": 4096}, 4096,
         "config.json model_max_length"),
        ({"max_position_embeddings": 2048, "seq_length": 8192}, 2048, "config.json max_position_embeddings"),
        # gemma3 in the model type anywhere: no scaling
        ({"model_type": "gemma3", "max_position_embeddings": 8192, "rope_scaling": {"type": "linear", "factor": 8}},
         8192, "config.json max_position_embeddings"),
    ],
)  # fmt: skip
def test_rope_scaling_word_for_word(tmp_path: Path, changes: dict[str, Any], expected: int, why: str) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(**changes)))
    assert found.spec.max_position_embeddings == expected
    assert found.provenance["max_position_embeddings"] == f"{why} (vLLM's default max_model_len)"


# ------------------------------------------------------------------------------------------ dtype


@pytest.mark.parametrize(
    ("changes", "tensors", "dtype", "why"),
    [
        ({"torch_dtype": None, "dtype": "float16"}, [BF16], "float16", "config.json dtype"),
        ({"torch_dtype": "bfloat16", "dtype": "float16"}, [BF16], "float16", "config.json dtype"),  # dtype first
        ({"torch_dtype": "float16"}, [BF16], "float16", "config.json torch_dtype"),
        ({"torch_dtype": None, "text_config": {"torch_dtype": "float16"}}, [BF16], "float16",
         "config.json text_config.torch_dtype"),
        # the top level before the text config
        ({"torch_dtype": "bfloat16", "text_config": {"torch_dtype": "float16"}}, [BF16], "bfloat16",
         "config.json torch_dtype"),
        ({"torch_dtype": None}, [BF16], "bfloat16", "safetensors headers (BF16 tensors; config.json names no dtype)"),
        ({"torch_dtype": None}, [BF16, "F32"], "bfloat16",
         "safetensors headers (BF16 tensors; config.json names no dtype)"),
        ({"torch_dtype": None}, ["F16"], "float16", "safetensors headers (F16 tensors; config.json names no dtype)"),
        ({"torch_dtype": None}, ["F16", "F32", "I8"], "float16",
         "safetensors headers (F16 tensors; config.json names no dtype)"),
        ({"torch_dtype": "float32"}, ["F32"], "bfloat16",
         "config.json torch_dtype float32, loaded as bfloat16 (vLLM _resolve_auto_dtype)"),
    ],
)  # fmt: skip
def test_dtype_from_config_or_headers(
    tmp_path: Path, changes: dict[str, Any], tensors: list[str], dtype: str, why: str
) -> None:
    shards = {"model.safetensors": {f"t{i}": (t, [8]) for i, t in enumerate(tensors)}}
    found = read_model_dir(make_model_dir(tmp_path / "me" / "m", qwen3_config(**changes), shards))
    assert found.spec.dtype == dtype
    assert found.provenance["dtype"] == why


@pytest.mark.parametrize(
    ("tensors", "named"),
    [([BF16, "F16"], "BF16, F16"), (["F32"], "F32"), (["I8"], ""), (["F16", BF16, "F32"], "BF16, F16, F32")],
)
def test_dtype_the_headers_do_not_settle_is_refused(tmp_path: Path, tensors: list[str], named: str) -> None:
    shards = {"model.safetensors": {f"t{i}": (t, [8]) for i, t in enumerate(tensors)}}
    directory = make_model_dir(tmp_path / "me" / "m", qwen3_config(torch_dtype=None), shards)
    assert refusal(directory) == (
        f"D/config.json: torch_dtype is missing and the weights' dtypes ({named}) do not settle it"
    )


def test_dtype_not_planned_is_refused_naming_its_key(tmp_path: Path) -> None:
    directory = one_tensor(tmp_path, qwen3_config(torch_dtype=None, dtype="int8"))
    assert (
        refusal(directory) == "D/config.json: dtype 'int8' is not a dtype ascendgen plans (bfloat16, float16, float32)"
    )


def test_float32_tensors_count_two_bytes_only_for_a_float32_checkpoint(tmp_path: Path) -> None:
    # BF16 [8] = 16 B + F32 [8] = 32 B + I8 [8] = 8 B on disk = 56 B
    shards = {"model.safetensors": {"a": (BF16, [8]), "b": ("F32", [8]), "c": ("I8", [8])}}
    f32 = read_model_dir(make_model_dir(tmp_path / "me" / "a", qwen3_config(torch_dtype="float32"), shards))
    assert f32.spec.weight_bytes == 56 - 16  # the 32 float32 bytes count 16
    assert f32.provenance["weight_bytes"] == (
        "safetensors headers of 1 file(s), float32 tensors counted at 2 bytes (loaded as bfloat16)"
    )
    bf16 = read_model_dir(make_model_dir(tmp_path / "me" / "b", qwen3_config(), shards))
    assert bf16.spec.weight_bytes == 56
    assert bf16.provenance["weight_bytes"] == "safetensors headers of 1 file(s)"


# -------------------------------------------------------------------------------------------- MoE

# moe_shards(4, 64, 32): embeddings 1000 x 64 = 64,000 + q_proj 64 x 64 = 4,096 + 4 experts x 3 x 32 x 64 = 24,576
# + shared 32 x 64 = 2,048 = 94,720 elements -> params_b 9.472e-05
MOE_ELEMENTS, MOE_EXPERT_ELEMENTS = 94_720, 24_576


@pytest.mark.parametrize("experts_key", ["num_experts", "n_routed_experts", "num_local_experts"])
@pytest.mark.parametrize("active_key", ["num_experts_per_tok", "experts_per_token", "moe_topk"])
def test_each_expert_key_gives_the_moe(tmp_path: Path, experts_key: str, active_key: str) -> None:
    config = qwen3_config(**{experts_key: 4, active_key: 1})
    found = read_model_dir(make_model_dir(tmp_path / "me" / "moe", config, moe_shards(4, 64, 32)))
    spec = found.spec
    assert (spec.kind, spec.num_experts, spec.params_b) == ("moe", 4, 9.472e-05)
    # 94,720 - 24,576 x (1 - 1/4) = 76,288
    assert spec.active_params_b == 7.629e-05
    assert found.provenance["kind"] == found.provenance["num_experts"] == f"config.json {experts_key}"
    assert found.provenance["params_b"] == (
        "safetensors headers: elements stored (a packed 4-bit weight counts once per byte)"
    )
    assert found.provenance["active_params_b"] == (
        f"safetensors headers: all elements minus the routed experts' x (1 - 1/4) (config.json {active_key})"
    )


@pytest.mark.parametrize(("active", "expected"), [(2, 8.243e-05), (4, 9.472e-05)])
def test_active_parameters_scale_with_the_experts_used(tmp_path: Path, active: int, expected: float) -> None:
    # 94,720 - 24,576 x (1 - 2/4) = 82,432; all 4 used: every element active
    config = qwen3_config(num_experts=4, num_experts_per_tok=active)
    spec = read_model_dir(make_model_dir(tmp_path / "me" / "moe", config, moe_shards(4, 64, 32))).spec
    assert spec.active_params_b == expected


@pytest.mark.parametrize("experts", [None, 1])
def test_fewer_than_two_experts_is_dense(tmp_path: Path, experts: int | None) -> None:
    config = qwen3_config(num_experts=experts, num_experts_per_tok=1)
    found = read_model_dir(make_model_dir(tmp_path / "me" / "d", config, moe_shards(4, 64, 32)))
    assert (found.spec.kind, found.spec.num_experts, found.spec.active_params_b) == ("dense", None, None)
    assert found.spec.params_b == 9.472e-05
    assert found.provenance["kind"] == "config.json names no routed experts (num_experts, ...)"


def test_two_experts_is_moe(tmp_path: Path) -> None:
    config = qwen3_config(num_experts=2, num_experts_per_tok=1)
    spec = read_model_dir(make_model_dir(tmp_path / "me" / "m", config, moe_shards(2, 64, 32))).spec
    assert (spec.kind, spec.num_experts) == ("moe", 2)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"num_experts": 4, "num_experts_per_tok": 5}, "num_experts_per_tok 5 is more than the 4 experts"),
        ({"num_experts": 4, "moe_topk": 8}, "moe_topk 8 is more than the 4 experts"),
        ({"num_experts": 4}, "num_experts_per_tok is missing (experts per token); ascendgen needs it to size the "
         "model"),
        ({"num_experts": 0}, "num_experts must be a positive whole number, not 0"),
        ({"num_experts": 4, "num_experts_per_tok": 1, "intermediate_size": None},
         "moe_intermediate_size is missing and no tensor is named like an expert: ascendgen cannot tell the active "
         "parameters"),
    ],
)  # fmt: skip
def test_moe_refusals_word_for_word(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    assert refusal(one_tensor(tmp_path, qwen3_config(**changes))) == f"D/config.json: {message}"


@pytest.mark.parametrize(
    ("changes", "active", "why"),
    [
        # 3 x 1024 x 8 x (4 - 1) idle experts x 4 layers = 294,912: 1,000,000 - 294,912 = 705,088
        ({"moe_intermediate_size": 8}, 0.0007051, "moe_intermediate_size x idle experts x 4 MoE layers"),
        ({"intermediate_size": 8}, 0.0007051, "intermediate_size x idle experts x 4 MoE layers"),
        # moe_intermediate_size before intermediate_size
        ({"moe_intermediate_size": 8, "intermediate_size": 99}, 0.0007051, "moe_intermediate_size x idle"),
        # the first dense layer has no experts: 3 x 1024 x 8 x 3 x 3 = 221,184 -> 778,816
        ({"moe_intermediate_size": 8, "first_k_dense_replace": 1}, 0.0007788, "x 3 MoE layers"),
        ({"moe_intermediate_size": 8, "first_k_dense_replace": 9}, 0.001, "x 0 MoE layers"),
        # more idle than stored: one element at least
        ({"moe_intermediate_size": 1000}, 1e-09, "x 4 MoE layers"),
    ],
)
def test_active_parameters_estimated_without_expert_tensors(
    tmp_path: Path, changes: dict[str, Any], active: float, why: str
) -> None:
    config = qwen3_config(num_experts=4, num_experts_per_tok=1, **changes)
    shards = {"model.safetensors": {"model.layers.0.mlp.gate.weight": (BF16, [1000, 1000])}}
    found = read_model_dir(make_model_dir(tmp_path / "me" / "m", config, shards))
    assert found.spec.params_b == 0.001
    assert found.spec.active_params_b == active
    assert found.provenance["active_params_b"].startswith("estimated: elements stored minus 3 x hidden_size x ")
    assert why in found.provenance["active_params_b"]


def test_routed_expert_tensors_are_told_from_shared_ones(tmp_path: Path) -> None:
    tensors = {
        "experts.0.w": (BF16, [100]),  # routed, at the start of the name
        "model.layers.0.mlp.experts.1.w": (BF16, [100]),  # routed
        "model.layers.0.mlp.shared_experts.w": (BF16, [100]),
        "model.layers.0.mlp.shared_expert.w": (BF16, [100]),
        "model.layers.0.mlp.myexperts.w": (BF16, [100]),
    }
    config = qwen3_config(num_experts=2, num_experts_per_tok=1)
    spec = read_model_dir(make_model_dir(tmp_path / "me" / "m", config, {"model.safetensors": tensors})).spec
    # 500 elements, 200 of them routed experts: 500 - 200 x (1 - 1/2) = 400
    assert (spec.params_b, spec.active_params_b) == (5e-07, 4e-07)


# ------------------------------------------------------------------------------- safetensors headers


def with_shard(tmp_path: Path, content: bytes) -> Path:
    """A model directory whose only shard holds exactly `content`."""
    directory = one_tensor(tmp_path, qwen3_config())
    (directory / "model.safetensors").write_bytes(content)
    return directory


def shard_bytes(header: Any, data: int) -> bytes:
    raw = json.dumps(header).encode()
    return len(raw).to_bytes(8, "little") + raw + bytes(data)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "0 bytes is too short for a safetensors file (truncated download?)"),
        (b"\x01\x00\x00\x00\x00\x00\x00", "7 bytes is too short for a safetensors file (truncated download?)"),
        ((100).to_bytes(8, "little") + b"{}", "the file ends inside its 100-byte header (truncated download?)"),
        ((1234).to_bytes(8, "little") + b"{}", "the file ends inside its 1,234-byte header (truncated download?)"),
        # exactly 100 MiB is not over the limit: read (and found short)
        ((100 * 1024**2).to_bytes(8, "little"),
         "the file ends inside its 104,857,600-byte header (truncated download?)"),
        ((100 * 1024**2 + 1).to_bytes(8, "little"),
         "header length 104,857,601 bytes is over 100 MiB: the file is corrupt or not safetensors"),
        ((0).to_bytes(8, "little"), "the safetensors header is not JSON: corrupt, or not safetensors"),
        ((3).to_bytes(8, "little") + b"{x}", "the safetensors header is not JSON: corrupt, or not safetensors"),
        ((2).to_bytes(8, "little") + b"\xff\xfe", "the safetensors header is not JSON: corrupt, or not safetensors"),
        ((3).to_bytes(8, "little") + b"[1]", "the safetensors header is not a JSON object"),
    ],
)  # fmt: skip
def test_broken_header_is_refused_word_for_word(tmp_path: Path, content: bytes, message: str) -> None:
    assert refusal(with_shard(tmp_path, content)) == f"D/model.safetensors: {message}"


U8_2 = {"dtype": "U8", "shape": [2], "data_offsets": [0, 2]}


@pytest.mark.parametrize(
    "entry",
    [
        5,
        {"shape": [2], "data_offsets": [0, 2]},
        {**U8_2, "dtype": 8},
        {**U8_2, "shape": "2"},
        {**U8_2, "shape": [True, 2]},  # a bool is not a dimension (True x 2 would be 2 bytes)
        {**U8_2, "shape": [2.0]},
        {**U8_2, "shape": [-2, -1]},  # -2 x -1 = 2 elements: still refused
        {**U8_2, "data_offsets": [0]},
        {**U8_2, "data_offsets": [0, 2, 2]},
        {**U8_2, "data_offsets": "0,2"},
        {**U8_2, "data_offsets": [False, 2]},
        {**U8_2, "data_offsets": [0.0, 2]},
        {**U8_2, "data_offsets": [-1, 1]},
        {**U8_2, "shape": [0], "data_offsets": [2, 0]},
    ],
)
def test_tensor_entry_without_dtype_shape_and_offsets_is_refused(tmp_path: Path, entry: Any) -> None:
    directory = with_shard(tmp_path, shard_bytes({"w": entry}, 2))
    assert refusal(directory) == "D/model.safetensors: tensor 'w': needs dtype, shape and data_offsets [start, end]"


@pytest.mark.parametrize(
    ("header", "data", "weight_bytes"),
    [
        ({"__metadata__": {"format": "pt"}, "w": U8_2}, 2, 2),  # the metadata is no tensor
        ({"w": {"dtype": "U8", "shape": [0], "data_offsets": [2, 2]}, "v": U8_2}, 2, 2),  # an empty tensor
        ({"w": {"dtype": "F4", "shape": [4], "data_offsets": [0, 2]}}, 2, 2),  # unknown dtype: its offsets count
        ({"w": U8_2}, 5, 2),  # bytes after the data: not refused
        ({"w": {"dtype": "U8", "shape": [2, 3], "data_offsets": [0, 6]}}, 6, 6),
        ({"w": {"dtype": "I64", "shape": [2], "data_offsets": [0, 16]}}, 16, 16),
    ],
)
def test_header_edge_cases_that_are_read(tmp_path: Path, header: dict[str, Any], data: int, weight_bytes: int) -> None:
    spec = read_model_dir(with_shard(tmp_path, shard_bytes(header, data))).spec
    assert spec.weight_bytes == weight_bytes


def test_truncated_shard_names_both_sizes(tmp_path: Path) -> None:
    # the data ends at the largest end offset, 4, whichever tensor comes first
    header = {"b": {"dtype": "U8", "shape": [2], "data_offsets": [2, 4]}, "a": U8_2}
    content = shard_bytes(header, 3)
    length = len(content) - 8 - 3
    assert refusal(with_shard(tmp_path, content)) == (
        f"D/model.safetensors: truncated: its header promises {8 + length + 4:,} bytes, the file has "
        f"{8 + length + 3:,} (an unfinished download? fetch it again)"
    )


def test_shape_against_offsets_word_for_word(tmp_path: Path) -> None:
    header = {"w": {"dtype": "F32", "shape": [1000], "data_offsets": [0, 2000]}}
    assert refusal(with_shard(tmp_path, shard_bytes(header, 2000))) == (
        "D/model.safetensors: tensor 'w': shape [1000] of F32 is 4,000 bytes but data_offsets span 2,000"
    )


# ------------------------------------------------------------------------------------- the index


def indexed(tmp_path: Path, index: Any) -> Path:
    directory = one_tensor(tmp_path, qwen3_config())
    (directory / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    return directory


@pytest.mark.parametrize(
    "index",
    [{"metadata": {}}, {"weight_map": {}}, {"weight_map": {"w": 5}}, {"weight_map": ["model.safetensors"]},
     {"weight_map": {"w": "model.safetensors", "v": None}}],
)  # fmt: skip
def test_index_without_a_weight_map_is_refused(tmp_path: Path, index: dict[str, Any]) -> None:
    assert refusal(indexed(tmp_path, index)) == (
        "D/model.safetensors.index.json: weight_map is missing (a mapping of tensor names to shard files)"
    )


@pytest.mark.parametrize("shard", ["..", ".", "sub/model.safetensors", "/abs/model.safetensors"])
def test_index_naming_no_file_of_the_directory_is_refused(tmp_path: Path, shard: str) -> None:
    assert refusal(indexed(tmp_path, {"weight_map": {"w": shard}})) == (
        f"D/model.safetensors.index.json: weight_map names {shard!r}, not a file in the model directory"
    )


@pytest.mark.parametrize(
    ("missing", "listed"),
    [
        (["a.safetensors"], "1 of 2 shards are missing: a.safetensors"),
        (["a", "b", "c"], "3 of 4 shards are missing: a, b, c"),
        (["a", "b", "c", "d"], "4 of 5 shards are missing: a, b, c and 1 more"),
        (["e", "d", "c", "b", "a"], "5 of 6 shards are missing: a, b, c and 2 more"),
    ],
)
def test_missing_shards_are_counted(tmp_path: Path, missing: list[str], listed: str) -> None:
    weight_map = {"w": "model.safetensors", **{f"t{n}": n for n in missing}}
    assert refusal(indexed(tmp_path, {"weight_map": weight_map})) == (
        f"D/model.safetensors.index.json: {listed} (an unfinished download? fetch them again)"
    )


@pytest.mark.parametrize("total", [True, 0, -1, "16", 16.0])
def test_index_total_size_must_be_a_positive_count(tmp_path: Path, total: Any) -> None:
    index = {"metadata": {"total_size": total}, "weight_map": {"w": "model.safetensors"}}
    assert refusal(indexed(tmp_path, index)) == (
        f"D/model.safetensors.index.json: metadata.total_size must be a positive number of bytes, not {total!r}"
    )


@pytest.mark.parametrize("metadata", [{}, {"total_size": None}, "x", None])
def test_index_without_total_size_is_read(tmp_path: Path, metadata: Any) -> None:
    found = read_model_dir(indexed(tmp_path, {"metadata": metadata, "weight_map": {"w": "model.safetensors"}}))
    assert found.spec.weight_bytes == 16  # BF16 [8]
    assert found.provenance["weight_bytes"] == "safetensors headers of 1 file(s)"


# TINY_BYTES = 4,297,015,296: 1% is 42,970,152.96 bytes
@pytest.mark.parametrize("total", [TINY_BYTES, TINY_BYTES + 42_970_152, TINY_BYTES - 42_970_152])
def test_index_total_size_within_one_percent_is_accepted(tmp_path: Path, total: int) -> None:
    directory = tiny_gqa(tmp_path)
    index = {"metadata": {"total_size": total}, "weight_map": dict.fromkeys(TINY_TENSORS, "model.safetensors")}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    found = read_model_dir(directory)
    assert found.spec.weight_bytes == TINY_BYTES  # the headers' bytes, not the index's
    assert found.provenance["weight_bytes"] == (
        "safetensors headers of 1 file(s) (= model.safetensors.index.json metadata.total_size)"
    )


@pytest.mark.parametrize("total", [TINY_BYTES + 42_970_153, TINY_BYTES - 42_970_153])
def test_index_total_size_beyond_one_percent_is_refused(tmp_path: Path, total: int) -> None:
    directory = tiny_gqa(tmp_path)
    index = {"metadata": {"total_size": total}, "weight_map": dict.fromkeys(TINY_TENSORS, "model.safetensors")}
    (directory / "model.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    assert refusal(directory) == (
        f"D/model.safetensors.index.json: metadata.total_size {total:,} bytes disagrees with the 4,297,015,296 "
        "bytes its shards' headers hold: the index and the shards are from different builds"
    )


def test_only_the_shards_the_index_names_are_loaded(tmp_path: Path) -> None:
    directory = indexed(tmp_path, {"metadata": {"total_size": 16}, "weight_map": {"w": "model.safetensors"}})
    write_safetensors(directory / "consolidated.safetensors", {"x": (BF16, [1000])})
    found = read_model_dir(directory)
    assert found.spec.weight_bytes == 16
    assert [Path(f).name for f in found.files_read][1:] == ["model.safetensors.index.json", "model.safetensors"]


def test_a_modelslim_index_is_checked_but_every_shard_loads(tmp_path: Path) -> None:
    # a ModelSlim build's index is named after its weights; vLLM loads every *.safetensors of the directory
    directory = one_tensor(tmp_path, qwen3_config())
    write_safetensors(directory / "extra.safetensors", {"x": (BF16, [4])})  # 8 B, not indexed
    index = {"metadata": {"total_size": 16}, "weight_map": {"w": "model.safetensors"}}
    (directory / "quant_model_weight.safetensors.index.json").write_text(json.dumps(index), encoding="utf-8")
    found = read_model_dir(directory)
    assert found.spec.weight_bytes == 16 + 8  # total_size 16 matches the indexed shard alone
    names = [Path(f).name for f in found.files_read]
    assert names[1:] == ["quant_model_weight.safetensors.index.json", "extra.safetensors", "model.safetensors"]
    assert found.provenance["weight_bytes"] == (
        "safetensors headers of 2 file(s) (= quant_model_weight.safetensors.index.json metadata.total_size)"
    )
    # a second index: neither is taken as the index
    (directory / "other.safetensors.index.json").write_text(json.dumps({"weight_map": {}}), encoding="utf-8")
    again = read_model_dir(directory)
    assert [Path(f).name for f in again.files_read][1:] == ["extra.safetensors", "model.safetensors"]


def test_no_weights_word_for_word(tmp_path: Path) -> None:
    directory = one_tensor(tmp_path, qwen3_config())
    (directory / "model.safetensors").unlink()
    (directory / "folder.safetensors").mkdir()  # a directory is no weights file
    assert refusal(directory) == (
        "D: no *.safetensors weights (ascendgen reads the weights' sizes from safetensors headers; a .bin or .gguf "
        "checkpoint is not planned)"
    )


# ------------------------------------------------------------------------------------ quantization


def ct_config(*groups: dict[str, Any]) -> dict[str, Any]:
    config_groups = {f"group_{i}": g for i, g in enumerate(groups)}
    return qwen3_config(quantization_config={"quant_method": "compressed-tensors", "config_groups": config_groups})


INT8 = {"num_bits": 8, "type": "int"}
INT4 = {"num_bits": 4, "type": "int"}


@pytest.mark.parametrize(
    ("group", "label", "min_image"),
    [
        ({"weights": INT8, "input_activations": {**INT8, "dynamic": True}}, "w8a8", "v0.12.0rc1"),
        ({"weights": INT8, "input_activations": {**INT8, "dynamic": False}}, "w8a8", "v0.12.0rc1"),
        ({"weights": INT4, "input_activations": {**INT8, "dynamic": True}}, "w4a8", "v0.15.0rc1"),
        ({"weights": INT4}, "w4a16", "v0.12.0rc1"),
        ({"weights": INT4, "input_activations": None}, "w4a16", "v0.12.0rc1"),
    ],
)
def test_each_compressed_tensors_scheme(tmp_path: Path, group: dict[str, Any], label: str, min_image: str) -> None:
    found = read_model_dir(one_tensor(tmp_path, ct_config(group), dtype="I8"))
    assert (found.spec.quantization, found.spec.serve_flags, found.spec.min_image) == (label, (), min_image)
    assert found.provenance["quantization"] == "config.json quantization_config (compressed-tensors)"
    assert "serve_flags" not in found.provenance


def test_compressed_tensors_groups_take_the_first_label_and_the_newest_image(tmp_path: Path) -> None:
    w8a8 = {"weights": INT8, "input_activations": INT8}
    w4a8 = {"weights": INT4, "input_activations": INT8}
    spec = read_model_dir(one_tensor(tmp_path, ct_config(w8a8, w4a8), dtype="I8")).spec
    assert (spec.quantization, spec.min_image) == ("w8a8", "v0.15.0rc1")


FP8_REFUSAL = (
    "quantization_config (W8A8FP8_DYNAMIC, compressed-tensors): FP8 runs on Ascend 950 NPUs only (vllm-ascend PR "
    "#10236); A2/A3 and 310P have no FP8"
)


@pytest.mark.parametrize(
    ("quantization_config", "message"),
    [
        ({"quant_method": "compressed-tensors"}, "quantization_config.config_groups is missing (compressed-tensors "
         "schemes)"),
        ({"quant_method": "compressed-tensors", "config_groups": {}}, "quantization_config.config_groups is missing "
         "(compressed-tensors schemes)"),
        ({"quant_method": "compressed-tensors", "config_groups": [INT8]}, "quantization_config.config_groups is "
         "missing (compressed-tensors schemes)"),
        ({"quant_method": "compressed-tensors", "config_groups": {"g": 5}},
         "quantization_config.config_groups.g.weights is missing"),
        ({"quant_method": "compressed-tensors", "config_groups": {"g": {"input_activations": INT8}}},
         "quantization_config.config_groups.g.weights is missing"),
        ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": INT8, "input_activations": INT4}}},
         "quantization_config.config_groups.g: weights of 8 bits with activations of 4 bits is not a "
         "compressed-tensors scheme vllm-ascend serves (W8A8, W4A8, W4A16)"),
        ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": INT8}}},
         "quantization_config.config_groups.g: weights of 8 bits with activations of None bits is not a "
         "compressed-tensors scheme vllm-ascend serves (W8A8, W4A8, W4A16)"),
        ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": INT4, "input_activations": {}}}},
         "quantization_config.config_groups.g: weights of 4 bits with activations of None bits is not a "
         "compressed-tensors scheme vllm-ascend serves (W8A8, W4A8, W4A16)"),
        ({"quant_method": "compressed-tensors", "config_groups": {"g": {"weights": {"num_bits": 8, "type": "float"}}}},
         FP8_REFUSAL),
        ({"quant_method": "compressed-tensors",
          "config_groups": {"g": {"weights": INT8, "input_activations": {"num_bits": 8, "type": "float"}}}},
         FP8_REFUSAL),
        ("w8a8", "quantization_config must be a JSON object"),
        ({}, "quantization_config has no quant_method (a ModelSlim build) but quant_model_description.json is "
         "missing: vllm-ascend cannot load it"),
        ({"quant_method": ""}, "quantization_config has no quant_method (a ModelSlim build) but "
         "quant_model_description.json is missing: vllm-ascend cannot load it"),
        ({"quant_method": "ascend"}, "quantization_config has no quant_method (a ModelSlim build) but "
         "quant_model_description.json is missing: vllm-ascend cannot load it"),
        ({"quant_method": 5}, "quantization_config.quant_method must be a name, not 5"),
        ({"quant_method": "exl2"}, "quantization_config.quant_method 'exl2': not a method vllm-ascend serves "
         "(vllm_ascend/platform.py supported_quantization: ascend, compressed-tensors); use a BF16 or ModelSlim "
         "W8A8 / W4A8 build"),
        ({"quant_method": "modelopt"}, "quantization_config.quant_method 'modelopt': NVIDIA ModelOpt (FP8/NVFP4) "
         "builds are made for CUDA GPUs; use a BF16 or ModelSlim W8A8 build"),
    ],
)  # fmt: skip
def test_quantization_config_refusals_word_for_word(tmp_path: Path, quantization_config: Any, message: str) -> None:
    directory = one_tensor(tmp_path, qwen3_config(quantization_config=quantization_config))
    assert refusal(directory) == f"D/config.json: {message}"


def test_modelopt_file_refusal_word_for_word(tmp_path: Path) -> None:
    directory = one_tensor(tmp_path, qwen3_config())
    (directory / "hf_quant_config.json").write_text("{}", encoding="utf-8")
    assert refusal(directory) == (
        "D/hf_quant_config.json: NVIDIA ModelOpt (FP8/NVFP4) builds are made for CUDA GPUs; use a BF16 or ModelSlim "
        "W8A8 build"
    )


@pytest.mark.parametrize("quantization_config", [None, {"quant_method": "ascend"}, {}, {"quant_method": ""}])
def test_modelslim_description_is_read_with_or_without_its_quantization_config(
    tmp_path: Path, quantization_config: Any
) -> None:
    found = read_model_dir(w8a8_build(tmp_path, W8A8_DESCRIPTION, quantization_config=quantization_config))
    assert found.spec.quantization == "w8a8"
    assert found.provenance["quantization"] == "quant_model_description.json model_quant_type W8A8_DYNAMIC"
    assert found.provenance["serve_flags"] == (
        "quant_model_description.json: a ModelSlim build is served with --quantization ascend"
    )


def test_a_description_beside_another_method_is_not_taken(tmp_path: Path) -> None:
    directory = w8a8_build(tmp_path, W8A8_DESCRIPTION, quantization_config={"quant_method": "exl2"})
    assert refusal(directory).startswith("D/config.json: quantization_config.quant_method 'exl2': not a method")


@pytest.mark.parametrize(
    ("description", "label", "min_image", "where"),
    [
        # the most common layer type names the build when model_quant_type is absent
        ({"a.weight": "W8A8_DYNAMIC", "b.weight": "W4A8_DYNAMIC", "c.weight": "W4A8_DYNAMIC"}, "w4a8", "v0.10.0rc1",
         "layer types W4A8_DYNAMIC, W8A8_DYNAMIC"),
        # a tie: the later name
        ({"a.weight": "W4A8_DYNAMIC", "b.weight": "W8A8_DYNAMIC"}, "w8a8", "v0.10.0rc1",
         "layer types W4A8_DYNAMIC, W8A8_DYNAMIC"),
        # FLOAT layers, entries that are not weights and values that are not names do not count
        ({"a.weight": "W8A16", "b.weight": "FLOAT", "c.weight": "FLOAT", "d.bias": "W4A8_DYNAMIC", "e.weight": 5},
         "w8a16", "v0.13.0rc1", "layer types W8A16"),
        # model_quant_type names the build, its image counts too
        ({"model_quant_type": "W4A16", "a.weight": "W8A8"}, "w4a16", "v0.12.0rc1", "model_quant_type W4A16"),
        ({"model_quant_type": "W8A8"}, "w8a8", None, "model_quant_type W8A8"),
        ({"model_quant_type": "FLOAT", "a.weight": "W8A8_MIX"}, "w8a8", "v0.12.0rc1", "model_quant_type FLOAT"),
        # C16 is no int8 cache: no C8 image
        ({"model_quant_type": "W8A8", "kv_cache_type": "C16"}, "w8a8", None, "model_quant_type W8A8"),
    ],
)  # fmt: skip
def test_modelslim_build_named_by_its_layers(
    tmp_path: Path, description: dict[str, Any], label: str, min_image: str | None, where: str
) -> None:
    found = read_model_dir(w8a8_build(tmp_path, description))
    assert (found.spec.quantization, found.spec.min_image) == (label, min_image)
    assert found.provenance["quantization"] == f"quant_model_description.json {where}"
    assert found.spec.serve_flags == ("--quantization=ascend",)
    assert found.spec.kv_cache_dtype is None


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ({"model_quant_type": 8}, 'model_quant_type must be a name such as "W8A8", not 8'),
        ({"a.weight": "FLOAT"}, "no layer is quantized (every .weight entry is FLOAT)"),
        ({"model_quant_type": "FLOAT", "a.weight": "FLOAT"}, "no layer is quantized (every .weight entry is FLOAT)"),
        ({"a.bias": "W8A8"}, "no layer is quantized (every .weight entry is FLOAT)"),
        ({"model_quant_type": "W9A9"}, "quantization type 'W9A9' is not one ascendgen knows (architectures.yaml "
         "quantizations lists the ModelSlim types vllm-ascend serves)"),
        ({"a.weight": "W8A8S"}, "quantization type 'W8A8S': W8A8S is a sparse format for Atlas 300I Duo "
         "(vllm_ascend/_310p/quantization) whose weight layout ascendgen does not plan"),
    ],
)  # fmt: skip
def test_modelslim_refusals_word_for_word(tmp_path: Path, description: dict[str, Any], message: str) -> None:
    directory = w8a8_build(tmp_path, description)
    assert refusal(directory) == f"D/quant_model_description.json: {message}"


def test_c8_counts_each_attention_layer_once(tmp_path: Path) -> None:
    description = {
        **W8A8_DESCRIPTION,
        "kv_cache_type": "C8",
        # 4 layers, each with a scale and an offset; an entry without a layer number does not count
        **{f"model.layers.{i}.self_attn.k_proj.kv_cache_scale": "W8A8_DYNAMIC" for i in range(4)},
        **{f"model.layers.{i}.self_attn.k_proj.kv_cache_scale_offset": "W8A8_DYNAMIC" for i in range(4)},
        "k_proj.kv_cache_scale": "W8A8_DYNAMIC",
        "model.layers.9.self_attn.v_proj.kv_cache_scale": "W8A8_DYNAMIC",
    }
    found = read_model_dir(w8a8_build(tmp_path, description))
    assert found.spec.kv_cache_dtype == "int8"
    assert found.provenance["kv_cache_dtype"] == (
        "quant_model_description.json kv_cache_type C8 on 4 attention layers (int8 KV cache)"
    )


def test_c8_on_fewer_layers_than_the_model_is_a_note_word_for_word(tmp_path: Path) -> None:
    description = {
        **W8A8_DESCRIPTION,
        "kv_cache_type": "C8",
        **{f"model.layers.{i}.self_attn.k_proj.kv_cache_scale": "x" for i in range(3)},
    }
    found = read_model_dir(w8a8_build(tmp_path, description))
    assert found.spec.kv_cache_dtype is None and "kv_cache_dtype" not in found.provenance
    assert found.spec.min_image == "v0.19.1rc1"
    assert found.notes == (
        "the build quantizes the KV cache (C8) of 3 of 4 layers; planned with the KV cache in the model dtype "
        "(conservative)",
    )


def test_c8_covers_the_attention_layers_of_a_hybrid_model(tmp_path: Path) -> None:
    # layer_types: 2 of 4 layers keep a KV cache; C8 on those 2 is all of them
    description = {
        **W8A8_DESCRIPTION,
        "kv_cache_type": "C8",
        **{f"model.layers.{i}.self_attn.k_proj.kv_cache_scale": "x" for i in (1, 3)},
    }
    layer_types = ["linear_attention", "full_attention", "linear_attention", "full_attention"]
    found = read_model_dir(w8a8_build(tmp_path, description, layer_types=layer_types))
    assert found.spec.kv_cache_layers == 2
    assert found.spec.kv_cache_dtype == "int8"


# ------------------------------------------------------------------------- the directory, attention, resolution


def test_directory_named_dot_takes_its_real_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    directory = one_tensor(tmp_path, qwen3_config(), name="Dot-Model")
    monkeypatch.chdir(directory)
    found = read_model_dir(Path("."))
    assert (found.spec.name, found.spec.hub_id) == ("Dot-Model", "me/Dot-Model")
    (directory / "sub").mkdir()
    monkeypatch.chdir(directory / "sub")
    assert read_model_dir(Path("..")).spec.name == "Dot-Model"


@pytest.mark.parametrize("name", ["my model", "_hidden", "-dash", "naïve"])
def test_directory_name_that_cannot_name_a_model_is_refused(tmp_path: Path, name: str) -> None:
    directory = make_model_dir(tmp_path / "me" / name, qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    assert refusal(directory) == (
        f"D: the directory name {name!r} cannot name a model (letters, digits, '.', '_', '-', starting with a letter "
        "or digit): rename the directory"
    )


def test_hub_id_is_the_name_alone_under_an_odd_parent(tmp_path: Path) -> None:
    directory = make_model_dir(
        tmp_path / "my models" / "M-1", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}}
    )
    found = read_model_dir(directory)
    assert (found.spec.name, found.spec.hub_id, found.spec.served_name) == ("M-1", "M-1", None)
    assert found.directory == directory
    assert found.provenance["architecture"] == "config.json architectures[0]"
    named = read_model_dir(directory, hub_id="org/M-1", served_name="m1")
    assert (named.spec.hub_id, named.spec.served_name) == ("org/M-1", "m1")


def test_spec_the_catalog_refuses_names_the_field(tmp_path: Path) -> None:
    directory = one_tensor(tmp_path, qwen3_config())
    with pytest.raises(InputError) as caught:
        read_model_dir(directory, served_name="")
    assert str(caught.value) == f"{directory}/config.json: served_name: String should have at least 1 character"


def test_unknown_architecture_note_word_for_word(tmp_path: Path) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(architectures=["NewForCausalLM"])))
    assert found.notes[0] == (
        "NewForCausalLM is not in ascendgen's architecture table (architectures.yaml): vllm-ascend's support matrix "
        "does not list it, so it may not load"
    )


def test_attention_provenance_word_for_word(tmp_path: Path) -> None:
    mha = read_model_dir(one_tensor(tmp_path, qwen3_config(num_key_value_heads=None), name="mha"))
    assert mha.provenance["num_key_value_heads"] == (
        "= num_attention_heads: config.json has no num_key_value_heads (vLLM get_total_num_kv_heads and "
        "transformers LlamaConfig take the attention heads)"
    )
    assert mha.provenance["head_dim"] == "config.json head_dim"
    mla = read_model_dir(make_model_dir(tmp_path / "ds" / "mla", deepseek_config(), moe_shards(4, 64, 32)))
    assert mla.provenance["attention"] == "config.json kv_lora_rank (multi-head latent attention)"
    assert mla.provenance["head_dim"] == "config.json qk_nope_head_dim + qk_rope_head_dim"
    assert mla.provenance["mla.v_head_dim"] == "config.json v_head_dim"
    assert mla.provenance["num_key_value_heads"] == "config.json num_key_value_heads"


@pytest.mark.parametrize("key", ["kv_lora_rank", "qk_rope_head_dim", "qk_nope_head_dim", "v_head_dim"])
def test_mla_dimension_refusal_word_for_word(tmp_path: Path, key: str) -> None:
    config = deepseek_config(**{key: 0}) if key == "kv_lora_rank" else deepseek_config(**{key: None})
    directory = make_model_dir(tmp_path / "ds" / "mla", config, moe_shards(4, 64, 32))
    expected = (
        "kv_lora_rank must be a positive whole number, not 0"
        if key == "kv_lora_rank"
        else f"{key} is missing (multi-head latent attention); ascendgen needs it to size the model"
    )
    assert refusal(directory) == f"D/config.json: {expected}"


@pytest.mark.parametrize(
    ("changes", "layers", "why"),
    [
        ({"layer_types": ["linear_attention", "full_attention", "mamba", "sliding_attention"]}, 2,
         "config.json layer_types: 2 of 4 layers are attention layers"),
        ({"full_attention_interval": 2}, 2, "config.json full_attention_interval: every 2th of 4 layers is full "
         "attention"),
        ({"model_type": "qwen3_next", "num_hidden_layers": 8}, 2,
         "Qwen3NextConfig's default full_attention_interval 4: every 4th of 8 layers is full attention"),
    ],
)  # fmt: skip
def test_kv_cache_layers_word_for_word(tmp_path: Path, changes: dict[str, Any], layers: int, why: str) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(**changes)))
    assert found.spec.kv_cache_layers == layers
    assert found.provenance["kv_cache_layers"] == (
        f"{why} (linear-attention layers keep a fixed-size state, no KV cache)"
    )


@pytest.mark.parametrize(
    "changes",
    [{"full_attention_interval": 1}, {"layer_types": ["full_attention"] * 4}, {"model_type": "qwen3"}],
)
def test_every_layer_with_a_kv_cache_is_no_hybrid(tmp_path: Path, changes: dict[str, Any]) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(**changes)))
    assert found.spec.kv_cache_layers is None and "kv_cache_layers" not in found.provenance


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"layer_types": "linear_attention"}, "layer_types must be a list of layer type names"),
        ({"layer_types": ["full_attention"] * 3 + [4]}, "layer_types must be a list of layer type names"),
        ({"layer_types": ["linear_attention"] * 4}, "no layer is an attention layer; ascendgen plans models with a KV "
         "cache"),
        ({"full_attention_interval": 5}, "no layer is an attention layer; ascendgen plans models with a KV cache"),
        ({"full_attention_interval": 0}, "full_attention_interval must be a positive whole number, not 0"),
        ({"layer_types": ["full_attention"] * 3}, "layer_types lists 3 layers but num_hidden_layers is 4: the file "
         "contradicts itself"),
    ],
)  # fmt: skip
def test_layer_refusals_word_for_word(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    assert refusal(one_tensor(tmp_path, qwen3_config(**changes))) == f"D/config.json: {message}"


SLIDING_NOTE = (
    "sliding-window layers are counted with a full-length KV cache (conservative: whether an image's vLLM shrinks "
    "them depends on its hybrid KV cache manager)"
)


@pytest.mark.parametrize(
    ("changes", "noted"),
    [
        ({"sliding_window": 4096}, True),
        ({"sliding_window": 4096, "use_sliding_window": True}, True),
        ({"sliding_window": 4096, "use_sliding_window": None}, True),
        ({"sliding_window": 4096, "use_sliding_window": False}, False),  # Qwen2/3 ship it switched off
        ({"use_sliding_window": True}, False),
        ({"layer_types": ["sliding_attention", "full_attention"] * 2}, True),
        ({"layer_types": ["full_attention"] * 4}, False),
    ],
)
def test_sliding_window_note(tmp_path: Path, changes: dict[str, Any], noted: bool) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(**changes)))
    assert found.notes == ((SLIDING_NOTE,) if noted else ())


def test_directory_deep_below_the_models_dir_is_served_under_its_name(tmp_path: Path) -> None:
    models = tmp_path / "models"
    directory = make_model_dir(models / "a" / "b" / "Deep-1", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    found = resolve_model(str(directory), load_catalog(), str(models))
    assert (found.source, found.spec.hub_id, found.spec.served_name) == ("files", "a/b/Deep-1", "Deep-1")
    assert found.files_read and found.notes == ()
    shallow = make_model_dir(models / "org" / "Flat-1", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    flat = resolve_model(str(shallow), load_catalog(), str(models))
    assert (flat.spec.hub_id, flat.spec.served_name) == ("org/Flat-1", None)


def test_directory_at_a_catalog_hub_id_keeps_the_catalogs_entry(tmp_path: Path) -> None:
    # the catalog's Qwen3-8B at models/qwen/qwen3-8b (another case): its name, serve flags and NPU counts stay
    models = tmp_path / "models"
    config = qwen3_config(num_hidden_layers=28, hidden_size=4096, num_attention_heads=32, vocab_size=151936)
    directory = make_model_dir(models / "qwen" / "qwen3-8b", config, {"model.safetensors": {"w": (BF16, [8])}})
    entry = load_catalog().get("Qwen3-8B")
    found = resolve_model(str(directory), load_catalog(), str(models))
    assert (found.source, found.spec.name, found.spec.num_layers) == ("files", "Qwen3-8B", 28)
    assert found.spec.npus == entry.npus


def test_catalog_model_read_from_the_models_dir_keeps_its_hub_id(tmp_path: Path) -> None:
    catalog = load_catalog()
    entry = catalog.get("Qwen3-8B")
    config = qwen3_config(num_hidden_layers=28, hidden_size=4096, num_attention_heads=32, vocab_size=151936)
    make_model_dir(tmp_path / "Qwen" / "Qwen3-8B", config, {"model.safetensors": {"w": (BF16, [8_200_000, 1000])}})
    config2 = qwen3_config(num_hidden_layers=28, hidden_size=1024, num_attention_heads=32, vocab_size=151936)
    (tmp_path / "Qwen" / "Qwen3-8B" / "config.json").write_text(json.dumps(config2))
    found = resolve_model("Qwen3-8B", catalog, str(tmp_path))
    assert (found.spec.hub_id, found.spec.served_name) == (entry.hub_id, entry.served_name)
    (note,) = found.notes
    assert note == (
        f"planned from the files in {tmp_path}/Qwen/Qwen3-8B, which differ from the catalog's Qwen3-8B: "
        "num_layers 28 (catalog 36); hidden_size 1024 (catalog 4096)"
    )


def test_unreadable_catalog_directory_note_has_no_files(tmp_path: Path) -> None:
    directory = tmp_path / "Qwen" / "Qwen3-8B"
    directory.mkdir(parents=True)
    (directory / "config.json").write_text(json.dumps(qwen3_config()))
    found = resolve_model("Qwen3-8B", load_catalog(), str(tmp_path))
    assert found.files_read == ()


def test_folder_that_cannot_be_served_is_refused_word_for_word(tmp_path: Path) -> None:
    models = tmp_path / "models"
    directory = make_model_dir(models / "my org" / "M-1", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    with pytest.raises(InputError) as caught:
        served_path_in(directory, str(models))
    assert str(caught.value) == (
        f"{directory}: the folder name 'my org' cannot be part of a served path (letters, digits, '.', '_', '-', "
        "starting with a letter or digit): rename it"
    )


def test_models_dir_named_through_a_link_finds_the_real_place(tmp_path: Path) -> None:
    models = tmp_path / "models"
    directory = make_model_dir(models / "org" / "M-1", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    (tmp_path / "link").symlink_to(models)
    assert served_path_in(directory, str(tmp_path / "link")) == "org/M-1"
    with pytest.raises(InputError, match="is not inside --models-dir"):
        served_path_in(models, str(tmp_path / "link"))  # the models directory itself holds no model


@pytest.mark.parametrize(
    ("changes", "wanted", "why", "note"),
    [
        # a known architecture: its table's version (Qwen3ForCausalLM 4.51.0), config.json's ignored
        ({"transformers_version": "9.0"}, "4.51.0", "architectures.yaml Qwen3ForCausalLM", None),
        # an unknown one: config.json's
        ({"architectures": ["NewForCausalLM"], "transformers_version": "4.51.0"}, "4.51.0",
         "config.json transformers_version", None),
        ({"architectures": ["NewForCausalLM"], "transformers_version": "99.1"}, "99.1",
         "config.json transformers_version",
         "no image in images.yaml is known to ship transformers >= 99.1 (config.json transformers_version)"),
        ({"architectures": ["NewForCausalLM"], "transformers_version": "dev"}, None, None, None),
        ({"architectures": ["NewForCausalLM"], "transformers_version": 4}, None, None, None),
        ({"architectures": ["NewForCausalLM"], "transformers_version": None}, None, None, None),
    ],
)  # fmt: skip
def test_transformers_needed_and_where_from(
    tmp_path: Path, changes: dict[str, Any], wanted: str | None, why: str | None, note: str | None
) -> None:
    found = read_model_dir(one_tensor(tmp_path, qwen3_config(**changes)))
    assert found.spec.min_transformers == wanted
    assert found.provenance.get("min_transformers") == why
    assert (note in found.notes) if note else all("transformers >=" not in n for n in found.notes)
    if wanted in ("4.51.0", None):
        assert found.spec.min_image is None  # the oldest image ships 4.51: no constraint


def test_catalog_differences_word_for_word() -> None:
    from ascendgen.modeldir import catalog_differences

    catalog = load_catalog()
    entry = catalog.get("Qwen3-8B")
    assert catalog_differences(entry, entry) == []
    hybrid = replace(entry, kv_cache_layers=9)
    assert catalog_differences(entry, hybrid) == ["kv_cache_layers 9 (catalog none)"]
    # Qwen3-8B: 8.2e9 x 2 B = 15.27 GiB; 6% more weights is a difference, 4% is not
    heavier = replace(entry, weight_bytes=int(8.2e9 * 2 * 1.06))
    assert catalog_differences(entry, heavier) == ["weights 16.2 GiB (catalog 15.3 GiB)"]
    assert catalog_differences(entry, replace(entry, weight_bytes=int(8.2e9 * 2 * 1.04))) == []
    mla = next(m for m in catalog.models if m.mla is not None)
    assert mla.mla is not None
    smaller = replace(mla, mla=replace(mla.mla, kv_lora_rank=256))
    d = mla.mla
    assert catalog_differences(mla, smaller) == [
        f"mla kv_lora_rank 256, qk_rope_head_dim {d.qk_rope_head_dim}, qk_nope_head_dim {d.qk_nope_head_dim}, "
        f"v_head_dim {d.v_head_dim} (catalog kv_lora_rank {d.kv_lora_rank}, qk_rope_head_dim {d.qk_rope_head_dim}, "
        f"qk_nope_head_dim {d.qk_nope_head_dim}, v_head_dim {d.v_head_dim})"
    ]


def test_merge_adds_the_builds_serve_flags_and_drops_moe_fields_for_dense_files(tmp_path: Path) -> None:
    catalog = load_catalog()
    # a ModelSlim build where the catalog's Qwen3-8B sits: the catalog's entry plus --quantization=ascend
    qwen = catalog.get("Qwen3-8B")
    tensors = {"model.layers.0.self_attn.q_proj.weight": ("I8", [8_200_000, 1000])}
    make_model_dir(
        tmp_path / "Qwen" / "Qwen3-8B",
        qwen3_config(num_hidden_layers=36, hidden_size=4096, num_attention_heads=32, vocab_size=151936),
        {"model.safetensors": tensors},
        extra={"quant_model_description.json": {"model_quant_type": "W8A8"}},
    )
    quantized = resolve_model("Qwen3-8B", catalog, str(tmp_path)).spec
    assert quantized.serve_flags == (*qwen.serve_flags, "--quantization=ascend")
    assert (quantized.quantization, quantized.min_transformers) == ("w8a8", "4.51.0")
    # dense files where the catalog has a MoE model: no experts left over
    moe = catalog.get("Qwen3-30B-A3B")
    assert moe.kind == "moe"
    make_model_dir(tmp_path / "Qwen" / "Qwen3-30B-A3B", qwen3_config(), {"model.safetensors": {"w": (BF16, [8])}})
    dense = resolve_model("Qwen3-30B-A3B", catalog, str(tmp_path)).spec
    assert (dense.kind, dense.num_experts, dense.active_params_b) == ("dense", None, None)
