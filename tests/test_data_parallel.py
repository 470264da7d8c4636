"""Data parallel: `--dp N`, `--fill`, and the multi-node dp / dp-ep layouts (vLLM's data parallel without Ray).

Hand arithmetic with the spelled-out constants of tests/test_planner.py (910B4: 29.49 GiB visible, util 0.9 ->
26.541 GiB usable; activation 1.0; runtime 0.5 + 0.25 per HCCL group; KV block 128 tokens; 1 GiB = 2**30 B). With
data parallel a rank joins one more HCCL group (the DP group), and a MoE model's expert parallel group spans DP x TP.
A MoE model's routed experts are at least (params - active params): vLLM splits them over every DP x TP rank."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from test_planner import A2, B4, IMAGE, model, plan

from ascendgen.cluster import DP_RPC_PORT, parse_node
from ascendgen.errors import PlanError
from ascendgen.hardware import NpuType, ServerProfile
from ascendgen.images import load_images
from ascendgen.planner import (
    PlanOptions,
    expert_weights_gib,
    hccl_groups,
    memory_per_npu,
    plan_deployment,
    weights_gib,
    weights_per_npu_gib,
)
from ascendgen.render_cluster import dp_node_args

from helpers import Result

Run = Callable[..., Result]
NODES = ["--node", "192.168.0.147:enp1s0", "--node", "192.168.0.35:enp1s0"]
B3 = NpuType(name="910B3", memory_gib=64, visible_gib=60.96, platform="a2")
# v0.9.2rc1 as images.yaml has it: its vLLM 0.9.2 runs `vllm serve --headless` (the test image's flags are defaults)
HEADLESS = replace(IMAGE, spec=replace(IMAGE.spec, flags=replace(IMAGE.spec.flags, headless=True)))
A2_64 = ServerProfile(name="atlas-800t-a2", npu_type="910B3", npu_count=8)


def arg(args: tuple[str, ...] | list[str], flag: str) -> str:
    return args[list(args).index(flag) + 1]


# ---------------------------------------------------------------------------------------------- one server


def test_dense_model_four_times_on_one_server() -> None:
    # Qwen3-8B, TP 1 x DP 4: each rank holds the whole model, 8.2e9 x 2 B = 15.2737 GiB
    # runtime: 0.5 + DP group 0.25 (no TP group at TP 1) = 0.75
    # KV = 26.541 - 15.2737 - 1.0 - 0.75 = 9.5173 GiB -> / (147,456 B x 128) = 541.x blocks -> 69,248 tokens per rank
    # concurrency: 69,248 / 40,960 = 1.69 per rank, x 4 ranks = 6.76
    p = plan("Qwen3-8B", dp=4)
    assert (p.tensor_parallel_size, p.data_parallel_size) == (1, 4)
    assert p.npus == (0, 1, 2, 3)
    assert p.memory.weights_gib == pytest.approx(15.2737, abs=1e-4)
    assert p.memory.runtime_gib == pytest.approx(0.75)
    assert p.memory.kv_cache_gib == pytest.approx(9.5173, abs=1e-4)
    assert p.kv_cache_tokens == 69_248
    assert p.max_model_len == 40_960
    assert p.max_concurrency == pytest.approx(6.76)
    assert arg(p.serve_args, "--data-parallel-size") == "4"
    assert "--tensor-parallel-size" not in p.serve_args  # TP 1 is vLLM's default
    assert "--distributed-executor-backend" not in p.serve_args  # one server: vLLM's own processes, no Ray
    assert p.to_json()["data_parallel_size"] == 4
    assert "set with --dp: 4 engines of TP 1" in p.dp_reason and "one API port" in p.dp_reason


def test_moe_experts_are_split_over_every_rank() -> None:
    # Qwen3-30B-A3B, TP 1 x DP 4, expert parallel (catalog): all weights 30.5e9 x 2 B = 56.8107 GiB
    # routed experts >= (30.5 - 3.3)e9 x 2 B = 50.6639 GiB, split over 4 NPUs; the other 6.1467 GiB on each
    # per NPU: 6.1467 / 1 + 50.6639 / 4 = 18.8127 GiB
    # runtime: 0.5 + EP group (over DP x TP = 4 ranks) 0.25 + DP group 0.25 = 1.0
    # KV = 26.541 - 18.8127 - 1.0 - 1.0 = 5.7283 GiB; per token 2 x 48 x 4 x 128 x 2 = 98,304 B
    # 5.7283 x 2**30 / (98,304 x 128) = 488.x blocks -> 62,464 tokens
    p = plan("Qwen3-30B-A3B", dp=4)
    assert (p.tensor_parallel_size, p.data_parallel_size, p.npus) == (1, 4, (0, 1, 2, 3))
    assert expert_weights_gib(p.model) == pytest.approx(50.6639, abs=1e-4)
    assert p.memory.weights_gib == pytest.approx(18.8127, abs=1e-4)
    assert p.memory.runtime_gib == pytest.approx(1.0)
    assert p.kv_cache_tokens == 62_464
    assert "--enable-expert-parallel" in p.serve_args
    assert "the experts are split over all 4 NPUs (expert parallel)" in p.dp_reason


def test_without_data_parallel_the_numbers_do_not_change() -> None:
    """dp=1 is exactly the TP-only arithmetic: the same HCCL groups and weights per NPU as before."""
    moe, dense = model("Qwen3-30B-A3B"), model("Qwen3-8B")
    for tp in (1, 2, 4, 8):
        assert weights_per_npu_gib(moe, tp) == weights_gib(moe) / tp
        assert hccl_groups(moe, tp) == (0 if tp == 1 else 2)  # TP group + EP group
        assert hccl_groups(dense, tp) == (0 if tp == 1 else 1)
    assert hccl_groups(dense, 1, 1, 4) == 1  # DP group only
    assert hccl_groups(moe, 1, 1, 4) == 2  # EP over the 4 ranks + DP
    assert hccl_groups(moe, 2, 1, 2) == 3  # TP + EP + DP
    assert hccl_groups(dense, 2, 2, 1) == 2  # TP + PP
    # a dense model's ranks each hold all of it
    assert weights_per_npu_gib(dense, 1, 1, 4) == weights_gib(dense)
    assert memory_per_npu(dense, B4, A2, 1, 0.9, "v0.9.2rc1", 1, 4).runtime_gib == pytest.approx(0.75)


def test_dp_picks_the_smallest_tp_at_which_each_rank_fits() -> None:
    # Qwen3-30B-A3B --dp 2: at TP 1 each NPU would hold 6.1467 + 50.6639 / 2 = 31.48 GiB > 26.541 usable -> TP 2
    p = plan("Qwen3-30B-A3B", dp=2)
    assert (p.tensor_parallel_size, p.data_parallel_size, p.npus) == (2, 2, (0, 1, 2, 3))
    assert "at TP 1 the weights take 31.5 GiB per NPU" in p.tp_reason
    assert arg(p.serve_args, "--tensor-parallel-size") == "2" and arg(p.serve_args, "--data-parallel-size") == "2"


def test_dp_with_the_npus_given_sets_tp() -> None:
    p = plan("Qwen3-8B", dp=2, npus=(4, 5, 6, 7))
    assert (p.tensor_parallel_size, p.data_parallel_size, p.npus) == (2, 2, (4, 5, 6, 7))
    assert "4 NPUs given with --npus over --dp 2" in p.tp_reason


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"dp": 4, "npus": (0, 1, 2)}, "gives 3 NPUs, which 4 data-parallel ranks cannot share evenly"),
        ({"dp": 4, "tp": 4}, r"--dp 4 x TP 4 needs 16 NPUs; one atlas-800i-a2 \(8 x 910B4\) has 8"),
        ({"dp": 2, "tp": 2, "npus": (0, 1, 2, 3, 4, 5)}, "--tp 2 x --dp 2 uses 4 NPUs but --npus 0-5 lists 6"),
        ({"dp": 2, "npus": (0, 1, 2, 3, 4, 5)}, "over --dp 2 gives TP 3, which does not divide Qwen3-8B's 32"),
        ({"dp": 2, "tp": 3}, "--tp 3 does not divide Qwen3-8B's 32 attention heads"),
    ],
)
def test_dp_refusals_say_what_to_change(options: dict[str, object], message: str) -> None:
    with pytest.raises(PlanError, match=message):
        plan("Qwen3-8B", **options)


def test_dp_that_does_not_fit_names_the_most_that_do() -> None:
    # Qwen3-32B needs TP 4 on 910B4: 4 ranks would need 16 NPUs; 8 NPUs hold 2
    with pytest.raises(PlanError, match=r"does not fit 4 times on one atlas-800i-a2 .*--dp 2 at most, or --fill"):
        plan("Qwen3-32B", dp=4)


# ---------------------------------------------------------------------------------------------- --fill


def test_fill_takes_the_most_ranks_that_fit() -> None:
    # Qwen3-32B: the smallest TP that fits is 4 (at TP 2: 32.8e9 x 2 B / 2 = 30.5 GiB > 26.541): 8 // 4 = 2 ranks
    p = plan("Qwen3-32B", fill=True)
    assert (p.tensor_parallel_size, p.data_parallel_size, p.npus) == (4, 2, tuple(range(8)))
    assert p.dp_reason.startswith("--fill: the most ranks of TP 4 on one atlas-800i-a2 (8 x 910B4): 2 engines")
    assert p.tp_reason.startswith("for each data-parallel rank, the smallest valid TP")
    # Qwen3-8B fits one NPU: eight ranks
    assert plan("Qwen3-8B", fill=True).data_parallel_size == 8


def test_fill_on_the_npus_given_leaves_the_rest_idle_and_says_so() -> None:
    p = plan("Qwen3-32B", fill=True, npus=(0, 1, 2, 3, 4, 5))
    assert (p.tensor_parallel_size, p.data_parallel_size, p.npus) == (4, 1, (0, 1, 2, 3))
    assert "the 6 NPUs given with --npus 0-5 (2 NPUs left idle)" in p.dp_reason
    assert "--data-parallel-size" not in p.serve_args  # one rank: a plain TP 4 server
    three = plan("Qwen3-8B", fill=True, npus=(0, 1, 2))
    assert (three.data_parallel_size, three.npus) == (3, (0, 1, 2))


def test_fill_with_a_fixed_tp() -> None:
    p = plan("Qwen3-8B", fill=True, tp=2)
    assert (p.tensor_parallel_size, p.data_parallel_size) == (2, 4)
    assert p.tp_reason.startswith("set with --tp; TP 1 would hold")


def test_fill_for_a_moe_model_spreads_the_experts_over_more_ranks() -> None:
    # Qwen3-30B-A3B: TP 1 fits once the experts are split 8 ways: 6.1467 + 50.6639 / 8 = 12.4797 GiB
    p = plan("Qwen3-30B-A3B", fill=True)
    assert (p.tensor_parallel_size, p.data_parallel_size) == (1, 8)
    assert p.memory.weights_gib == pytest.approx(12.4797, abs=1e-4)


def test_fill_that_fits_nothing_is_refused() -> None:
    with pytest.raises(PlanError, match="does not fit on the 2 NPUs given with --npus 0-1: at TP 2 x DP 1"):
        plan("Qwen3-32B", fill=True, npus=(0, 1))


# ---------------------------------------------------------------------------------------------- CLI and placement


def test_plan_dp_writes_one_service_on_dp_x_tp_npus(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-30B-A3B", "--dp", "2", "--out", str(tmp_path), "--host", "127.0.0.1")
    assert result.exit_code == 0, result.stderr
    assert "Data parallel" in result.stdout
    (service,) = yaml.safe_load((tmp_path / "compose.yml").read_text())["services"].values()
    assert [d for d in service["devices"] if d.startswith("/dev/davinci") and d[12:].isdigit()] == [
        "/dev/davinci0", "/dev/davinci1", "/dev/davinci2", "/dev/davinci3",
    ]  # fmt: skip
    command = service["command"]
    assert arg(command, "--data-parallel-size") == "2" and arg(command, "--tensor-parallel-size") == "2"
    assert service["labels"]["io.ascendgen.npus"] == "0,1,2,3"
    header = (tmp_path / "compose.yml").read_text().splitlines()
    assert header[1].endswith("ascendgen plan Qwen3-30B-A3B --dp 2 --host 127.0.0.1")
    assert any(line.startswith("# Qwen3-30B-A3B: TP 2 x DP 2 on 910B4 NPUs 0-3") for line in header)
    assert run("check", str(tmp_path)).exit_code == 0


def test_plan_json_gains_the_data_parallel_size(run: Run) -> None:
    result = run("plan", "Qwen3-8B", "--fill", "--json", "--dry-run")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert data["data_parallel_size"] == 8 and data["tensor_parallel_size"] == 1
    assert data["npus"] == list(range(8))
    assert data["dp_reason"].startswith("--fill: the most ranks of TP 1 on one atlas-800i-a2 (8 x 910B4): 8 engines")


def test_dp_and_fill_together_are_refused(run: Run) -> None:
    result = run("plan", "Qwen3-8B", "--dp", "2", "--fill", "--dry-run")
    assert result.exit_code == 2
    assert "--dp and --fill" in result.stderr and "Traceback" not in result.stderr


def test_several_instances_place_dp_x_tp_npus(run: Run, write: Callable[[str, str], Path], tmp_path: Path) -> None:
    """An instance with data parallel takes TP x DP NPUs; a --fill instance takes what the others leave."""
    deployment = write(
        "ascendgen.yaml",
        """
        instances:
          - model: Qwen3-8B
            dp: 2
          - model: Qwen3-30B-A3B
            fill: true
          - model: Qwen2.5-7B-Instruct
        """,
    )
    result = run("plan", "-f", str(deployment), "--out", str(tmp_path / "out"), "--json")
    assert result.exit_code == 0, result.stderr
    plans = result.json()
    # Qwen3-8B: 2 ranks of TP 1; Qwen2.5-7B-Instruct: TP 1; the --fill instance gets the 8 - 2 - 1 = 5 left, and
    # Qwen3-30B-A3B fits TP 1 x DP 5 (6.1467 + 50.6639 / 5 = 16.28 GiB per NPU). Placed in order: 2 NPUs in a group,
    # 5 NPUs take the free group 4-7 and one more, the last NPU goes to the third instance.
    assert [(p["npus"], p["tensor_parallel_size"], p["data_parallel_size"]) for p in plans] == [
        ([0, 1], 1, 2),
        ([2, 4, 5, 6, 7], 1, 5),
        ([3], 1, 1),
    ]
    assert "the 5 NPUs left for it on atlas-800i-a2" in plans[1]["dp_reason"]


def test_two_fill_instances_without_npus_are_refused(
    run: Run, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    deployment = write(
        "ascendgen.yaml",
        """
        instances:
          - model: Qwen3-8B
            fill: true
          - model: Qwen2.5-7B-Instruct
            fill: true
        """,
    )
    result = run("plan", "-f", str(deployment), "--dry-run")
    assert result.exit_code == 2
    assert "both --fill what the others leave: give one of them npus" in result.stderr


# ---------------------------------------------------------------------------------------------- several servers


def cluster(ep: bool):  # type: ignore[no-untyped-def]
    options = PlanOptions(nodes=2, fill=True, expert_parallel=ep)
    return plan_deployment(
        model("DeepSeek-R1-W8A8"), npu=B3, platform=A2, server=A2_64, image=HEADLESS, options=options
    )


def test_dp_ep_over_two_64g_servers_holds_deepseek_r1_w8a8() -> None:
    # DeepSeek-R1-W8A8 (671 B params, 37 B active, W8A8: linear int8, embeddings + lm_head bf16):
    # embeddings 2 x 129,280 x 7,168 = 1,853,358,080 params; all weights (671e9 - 1.853e9) x 1 + 1.853e9 x 2 B
    #   = 672.853e9 B = 626.6435 GiB; routed experts >= (671 - 37)e9 x 1 B = 590.4585 GiB; the rest 36.1850 GiB
    # TP 2 x DP 8: 36.1850 / 2 + 590.4585 / 16 = 55.00 GiB > 60.96 x 0.9 = 54.864 usable -> TP 4 x DP 4
    # per NPU: 36.1850 / 4 + 590.4585 / 16 = 9.0463 + 36.9037 = 45.9499 GiB
    # runtime: 0.5 + TP 0.25 + EP 0.25 + DP 0.25 = 1.25; KV = 54.864 - 45.9499 - 1.0 - 1.25 = 6.6641 GiB
    # MLA per token: 61 x (512 + 64) x 2 B = 70,272 B; 6.6641 x 2**30 / (70,272 x 128) = 795.x -> 101,760 tokens
    p = cluster(True)
    assert (p.tensor_parallel_size, p.data_parallel_size, p.nodes) == (4, 4, 2)
    assert p.npus == tuple(range(8))
    assert p.memory.weights_gib == pytest.approx(45.9499, abs=1e-4)
    assert p.memory.runtime_gib == pytest.approx(1.25)
    assert p.kv_bytes_per_token == 70_272 and p.kv_cache_tokens == 101_760
    assert "--distributed-executor-backend" not in p.serve_args  # no Ray
    assert arg(p.serve_args, "--data-parallel-size") == "4" and arg(p.serve_args, "--tensor-parallel-size") == "4"
    assert "--enable-expert-parallel" in p.serve_args
    assert p.dp_reason.startswith("2 nodes x 2 ranks of TP 4")
    # the plain dp layout leaves expert parallel out: one HCCL group fewer
    plain = cluster(False)
    assert plain.memory.runtime_gib == pytest.approx(1.0) and "--enable-expert-parallel" not in plain.serve_args
    assert weights_gib(p.model) == pytest.approx(626.6435, abs=1e-4)
    assert expert_weights_gib(p.model) == pytest.approx(590.4585, abs=1e-4)


def test_node_args_give_each_node_its_ranks() -> None:
    p = cluster(True)
    nodes = (parse_node("192.168.0.147:enp1s0"), parse_node("192.168.0.35:enp1s0"))
    head, worker = dp_node_args(p, nodes, 0), dp_node_args(p, nodes, 1)
    assert "--headless" not in head and "--data-parallel-start-rank" not in head
    assert arg(head, "--data-parallel-size-local") == "2"
    assert arg(head, "--data-parallel-address") == "192.168.0.147"
    assert arg(head, "--data-parallel-rpc-port") == str(DP_RPC_PORT) == "13389"
    assert worker[1] == "--headless"
    assert arg(worker, "--data-parallel-start-rank") == "2"
    assert arg(worker, "--data-parallel-address") == "192.168.0.147"  # the head's, on every node
    assert arg(worker, "--data-parallel-size") == "4" and arg(worker, "--data-parallel-size-local") == "2"


def test_plan_dp_ep_writes_a_file_per_node(run: Run, tmp_path: Path) -> None:
    result = run(
        "plan", "DeepSeek-R1-W8A8", "--server", "atlas-800t-a2", *NODES, "--layout", "dp-ep", "--out", str(tmp_path)
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    head = yaml.safe_load((tmp_path / "head" / "compose.yml").read_text())["services"]
    worker = yaml.safe_load((tmp_path / "worker-1" / "compose.yml").read_text())["services"]
    (head_service,) = head.values()
    (worker_service,) = worker.values()
    assert head_service["entrypoint"] == worker_service["entrypoint"] == ["vllm"]  # no Ray, no sh -c
    assert "--headless" not in head_service["command"] and "--headless" in worker_service["command"]
    assert arg(worker_service["command"], "--data-parallel-start-rank") == "2"
    for service, address in ((head_service, "192.168.0.147"), (worker_service, "192.168.0.35")):
        env = service["environment"]
        assert env["HCCL_IF_IP"] == address
        assert env["HCCL_SOCKET_IFNAME"] == env["GLOO_SOCKET_IFNAME"] == env["TP_SOCKET_IFNAME"] == "enp1s0"
        assert "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES" not in env
        assert "/etc/hccn.conf:/etc/hccn.conf:ro" in service["volumes"]
    assert head_service["labels"]["io.ascendgen.role"] == "head" and "healthcheck" in head_service
    assert worker_service["labels"]["io.ascendgen.role"] == "worker-1" and "healthcheck" not in worker_service
    assert "io.ascendgen.port" not in worker_service["labels"]  # headless: no API to wait for
    text = (tmp_path / "worker-1" / "compose.yml").read_text()
    assert "# Node 2 of 2, 192.168.0.35 (enp1s0), worker 1: headless, data-parallel ranks 2-3" in text
    assert run("check", str(tmp_path)).exit_code == 0


def test_plain_dp_layout_for_a_dense_model(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-32B", *NODES, "--layout", "dp", "--out", str(tmp_path), "--json")
    assert result.exit_code == 0, result.stderr
    data = result.json()
    assert (data["tensor_parallel_size"], data["data_parallel_size"]) == (4, 4)
    assert not any("cross-node" in w for w in data["warnings"])  # a dense model's ranks exchange no weights


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Qwen3-32B", *NODES, "--layout", "dp-ep"], "--layout dp-ep is for MoE models; Qwen3-32B is dense"),
        (["Qwen3-8B", *NODES, "--layout", "dp", "--dp", "4"], "the layout sets data parallel: use --layout dp"),
        (["Qwen3-8B", *NODES, "--layout", "dp", "--fill"], "the layout sets data parallel"),
        (["Qwen3-8B", *NODES, "--layout", "dp-pp"], "pipeline parallel together with expert parallel|one of"),
        (["Qwen3-8B", "--layout", "dp"], "--layout dp spreads one model over several servers"),
    ],
)
def test_unsupported_combinations_are_refused(run: Run, args: list[str], message: str) -> None:
    result = run("plan", *args, "--dry-run")
    assert result.exit_code == 2, result.stdout
    assert len(result.stderr.strip().splitlines()) == 1
    assert any(part in result.stderr for part in message.split("|"))


def test_dp_ep_that_does_not_fit_names_the_servers_it_needs(run: Run) -> None:
    # on 910B4 (32 GB), TP 8 x DP 2 over 2 servers: 36.185 / 8 + 590.4585 / 16 = 41.4 GiB per NPU, more than the
    # 29.49 x 0.92 = 27.1 GiB usable with the default image (vLLM >= 0.20); 4 servers: 4.52 + 590.4585 / 32 = 23.0
    result = run("plan", "DeepSeek-R1-W8A8", *NODES, "--layout", "dp-ep", "--dry-run")
    assert result.exit_code == 2
    assert "at TP 8 x DP 2 the weights take 41.4 GiB per NPU" in result.stderr
    assert "it needs 4 servers with this layout" in result.stderr and "the first runs the API" in result.stderr


def test_dp_layouts_need_an_image_whose_vllm_runs_headless() -> None:
    """images.yaml's `headless` flag is the per-version fact: every image there has it; one without is refused."""
    image = IMAGE  # ImageFlags' default: headless false
    options = PlanOptions(nodes=2, fill=True, expert_parallel=True)
    with pytest.raises(PlanError, match=r"run `vllm serve --headless` on the other nodes, which vLLM 0\.9\.2"):
        plan_deployment(model("DeepSeek-R1-W8A8"), npu=B3, platform=A2, server=A2_64, image=image, options=options)
    assert all(spec.flags.headless for spec in load_images())


def test_fill_with_a_tp_larger_than_the_npus_is_refused() -> None:
    with pytest.raises(PlanError, match="--fill --tp 8 needs 8 NPUs per rank; the 4 NPUs given with --npus 0-3"):
        plan("Qwen3-8B", fill=True, tp=8, npus=(0, 1, 2, 3))
