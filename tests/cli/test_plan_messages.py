"""What `ascendgen plan` tells an operator when it chooses or refuses: the real reason, with the numbers,
and what to do. Run as a user runs it, with the shipped catalog, hardware and newest image.

The newest image's vLLM defaults gpu_memory_utilization to 0.92: on a 910B4 (29.49 GiB visible to
torch_npu) 29.49 x 0.92 = 27.1308 GiB usable ("27.1"); on a 910B3 (60.96 GiB) 56.0832 GiB ("56.1").
Reserves: activation 1.0 GiB; runtime 0.5 GiB + 0.25 per HCCL group (TP, and EP for these MoE models)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ascendgen.catalog import load_catalog
from ascendgen.records import dump

from helpers import Run, Write

USABLE_B4 = "27.1 GiB usable (29.49 GiB x 0.92)"
SMALLEST_30B = (
    # Qwen3-30B-A3B: 30.5e9 x 2 B = 56.8107 GiB of weights; TP 2: 28.4054 GiB per NPU > 27.1308
    "the smallest valid TP (1, 2, 4, 8 divide the heads) that holds the weights and 8,192 tokens of KV cache; "
    f"at TP 2 the weights take 28.4 GiB per NPU, more than the {USABLE_B4}"
)


def test_default_tp_gives_the_memory_reason_not_the_placed_npus(run: Run, tmp_path: Path) -> None:
    # make_plans plans once to count NPUs, then again on the NPUs it placed: the reason stays the memory one
    result = run("plan", "Qwen3-30B-A3B", "--dry-run", "--json", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert (data["tensor_parallel_size"], data["npus"]) == (4, [0, 1, 2, 3])
    assert data["tp_reason"] == SMALLEST_30B


def test_several_instances_keep_their_memory_reasons(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "Qwen3-30B-A3B", "--dry-run", "--json", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    small, moe = result.json()
    assert small["npus"] == [0] and moe["npus"] == [4, 5, 6, 7]
    assert small["tp_reason"] == (
        "the smallest valid TP (1, 2, 4, 8 divide the heads); it holds the weights and 8,192 tokens of KV cache"
    )
    assert moe["tp_reason"] == SMALLEST_30B


def test_npus_given_that_are_too_few(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-30B-A3B", "--npus", "0-1", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: Qwen3-30B-A3B does not fit on the 2 NPUs given with --npus 0-1: at TP 2 the weights take 28.4 GiB "
        f"per NPU, more than the {USABLE_B4}; it needs 4 x 910B4: list 4 NPUs with --npus (e.g. --npus 0-3), "
        "or leave --npus out; or the W8A8 build Qwen3-30B-A3B-w8a8 fits on 2 x 910B4 of this server"
    )  # the build: 2 x 151,936 x 2,048 bf16 embedding params + ~29.9e9 int8: ~29.0 GiB, TP 2: 14.5 + 2.0 GiB
    assert list(tmp_path.iterdir()) == []


def test_qwen3_235b_on_one_a2_server(run: Run, tmp_path: Path) -> None:
    # 235e9 x 2 B = 437.7326 GiB: TP 8 54.7166, TP 16 27.3583 (both > 27.1308), TP 32 13.6791 GiB + 2.0
    # reserves: 11.45 GiB of KV cache. 32 NPUs = 4 servers of 8.
    result = run("plan", "Qwen3-235B-A22B", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: Qwen3-235B-A22B does not fit on one atlas-800i-a2 (8 x 910B4): at TP 8 the weights take 54.7 GiB "
        f"per NPU, more than the {USABLE_B4}; it needs 4 servers like this one (32 x 910B4): "
        "--node ADDR:IF --node ADDR:IF --node ADDR:IF --node ADDR:IF, one per server, the first the Ray head; "
        "or the W8A8 build Qwen3-235B-A22B-W8A8 needs 16 x 910B4 (2 servers)"
    )  # the build: 220.02 GiB (see test_planner): TP 8 27.50 > 27.13 GiB usable; TP 16 13.75 + 2.0 GiB fits


def test_the_servers_named_are_enough(run: Run, tmp_path: Path) -> None:
    # what the refusal above promises: 4 servers plan; 2 do not (TP 16: 27.4 > 27.1 GiB)
    nodes = [arg for i in range(4) for arg in ("--node", f"10.0.0.{i + 1}:eth0")]
    four = run("plan", "Qwen3-235B-A22B", *nodes, "--dry-run", "--json", "--out", str(tmp_path))
    assert four.exit_code == 0, four.stderr
    assert four.json()["tp_reason"] == "TP 32 x PP 1: 4 nodes x 8 NPUs, one rank per NPU"
    two = run("plan", "Qwen3-235B-A22B", *nodes[:4], "--dry-run", "--out", str(tmp_path))
    assert two.exit_code == 2
    assert two.stderr.strip() == (
        "error: Qwen3-235B-A22B does not fit on 2 x atlas-800i-a2 (16 x 910B4): at TP 16 x PP 1 the weights take "
        f"27.4 GiB per NPU, more than the {USABLE_B4}; it needs 4 servers with this layout: "
        "--node ADDR:IF --node ADDR:IF --node ADDR:IF --node ADDR:IF, one per server, the first the Ray head"
    )
    # 8 servers plan too, and the reason says 4 would do
    distinct = [arg for i in range(8) for arg in ("--node", f"10.0.0.{i + 1}:eth0")]
    eight = run("plan", "Qwen3-235B-A22B", *distinct, "--dry-run", "--json", "--out", str(tmp_path))
    assert eight.exit_code == 0, eight.stderr
    assert eight.json()["tp_reason"] == (
        "TP 64 x PP 1: 8 nodes x 8 NPUs, one rank per NPU; 4 servers would hold the weights and 8,192 tokens of "
        "KV cache with this layout"
    )


def test_deepseek_r1_on_one_a2_server_points_at_servers_and_its_w8a8_build(run: Run, tmp_path: Path) -> None:
    # bf16: 671e9 x 2 B = 1,249.83 GiB, 156.23 per NPU at TP 8; TP 32: 39.06 > 27.13; TP 64: 19.53 + 2.0,
    # 5.6 GiB of KV cache: 64 NPUs = 8 servers. The W8A8 build (found in the catalog by its hub repository,
    # vllm-ascend/DeepSeek-R1-W8A8): 626.64 GiB, TP 32: 19.58 + 2.0: 32 NPUs = 4 servers.
    result = run("plan", "DeepSeek-R1", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: DeepSeek-R1 does not fit on one atlas-800i-a2 (8 x 910B4): at TP 8 the weights take 156.2 GiB per "
        f"NPU, more than the {USABLE_B4}; it needs 8 servers like this one (64 x 910B4): --node ADDR:IF (x 8), "
        "one per server, the first the Ray head; or the W8A8 build DeepSeek-R1-W8A8 needs 32 x 910B4 (4 servers)"
    )


def test_kv_shortfall_and_a_w8a8_build_from_a_user_catalog(run: Run, write: Write, tmp_path: Path) -> None:
    # 8 x 910B3 on the default image (v0.23.0: 0.92, reserves of images from v0.15.0rc1 in hardware.yaml,
    # activation 0.5, runtime 0.3 + 0.25 for each of the TP and EP groups): 56.0832 GiB usable; TP 8: 54.7166 GiB
    # of weights + 0.5 + 0.8 = 56.0166, leaving 0.0666 GiB: 0.0666 x 2**30 / (48,128 B x 128) = 11.6 -> 11 blocks
    # = 1,408 tokens; 8,192 tokens x 48,128 B (2 x 94 layers x 1 KV head x 128 x 2 B) = 0.3672 GiB. TP 16 = 2
    # servers. A user's W8A8 build (220.02 GiB, see test_planner): TP 4 55.01 + 1.3 > 56.08; TP 8: 27.5 + 1.3,
    # 27.3 GiB of KV cache: fits on this server.
    entry = dump(load_catalog().get("Qwen3-235B-A22B"), json=True, exclude_none=True)
    entry.update(name="Qwen3-235B-A22B-W8A8", hub_id="someone/Qwen3-235B-A22B-W8A8", quantization="w8a8", npus={})
    catalog = write("mine.yaml", yaml.safe_dump({"models": [entry]}))
    result = run("plan", "Qwen3-235B-A22B", "--npu-type", "910B3", "--catalog", str(catalog), "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: Qwen3-235B-A22B does not fit on one atlas-800t-a2 (8 x 910B3): at TP 8 the weights (54.7 GiB per "
        "NPU) and reserves (0.5 GiB activation, 0.8 GiB runtime and HCCL) leave 0.07 GiB of the 56.1 GiB usable "
        "(60.96 GiB x 0.92) for the KV cache: 1,408 tokens, short of 8,192 (0.37 GiB); it needs 2 servers like this "
        "one (16 x 910B3): --node ADDR:IF --node ADDR:IF, one per server, the first the Ray head; or the W8A8 build "
        "Qwen3-235B-A22B-W8A8 fits on 8 x 910B3 of this server"
    )
    fits = run("plan", "Qwen3-235B-A22B-W8A8", "--npu-type", "910B3", "--catalog", str(catalog), "--dry-run", "--json")
    assert fits.exit_code == 0, fits.stderr
    assert fits.json()["tensor_parallel_size"] == 8


def test_tp_above_the_server_points_at_nodes(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--tp", "16", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --tp 16 needs 16 NPUs; atlas-800i-a2 has 8 (to span servers, give one --node ADDR:IF per server "
        "instead: the layout sets TP)"
    )


def test_an_image_outside_the_list_is_a_warning(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--image", "registry.example/vllm-ascend:mine", "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    warning = result.json()["warnings"][0]
    assert warning.startswith("image 'registry.example/vllm-ascend:mine' is not in the image list; planned with")


def test_a_model_that_fits_on_one_server_warns_against_spanning_two(run: Run, tmp_path: Path) -> None:
    nodes = ["--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth0"]
    result = run("plan", "Qwen3-VL-30B-A3B-Instruct", *nodes, "--dry-run", "--json", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert (
        "Qwen3-VL-30B-A3B-Instruct fits on one atlas-800i-a2 (4 x 910B4): run an independent replica on each server "
        "instead (ascendgen plan Qwen3-VL-30B-A3B-Instruct on each); cross-node TP/PP/EP cost 12-28% throughput"
    ) in result.json()["warnings"][0]
