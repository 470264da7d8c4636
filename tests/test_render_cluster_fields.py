"""The compose file of each node of a multi-node plan (render_cluster.py), read back field by field: with Ray (the
head runs `ray start --head` and `vllm serve`, each worker `ray start --block`) and without (vLLM's multi-node
data parallel: one `vllm serve` per node, the nodes after the head `--headless`).

Plans use tests/test_planner.py's spelled-out 910B4 constants, on a platform with the multi-node mounts of
hardware.yaml's a2 (hccn_tool and hccn.conf)."""

from __future__ import annotations

import shlex
from dataclasses import replace
from typing import Any

import pytest
import yaml
from test_planner import A2, B4, IMAGE, SERVER, model

from ascendgen.cluster import parse_node
from ascendgen.planner import Plan, PlanOptions, plan_deployment
from ascendgen.render import read_generated
from ascendgen.render_cluster import dp_node_args, render_cluster, render_dp_cluster

A2_NODES = replace(A2, multinode_mounts=("/usr/local/Ascend/driver/tools/hccn_tool", "/etc/hccn.conf"))
# v0.9.2rc1 as images.yaml has it: its vLLM 0.9.2 runs `vllm serve --headless` (tests/test_data_parallel.py)
HEADLESS = replace(IMAGE, spec=replace(IMAGE.spec, flags=replace(IMAGE.spec.flags, headless=True)))
# an IPv6 head (its address goes in brackets where a port follows), workers on other interfaces
NODES = tuple(parse_node(text) for text in ("[fd00::1]:enp1s0", "10.0.0.2:bond0.100", "10.0.0.3:ib_1"))
VOLUMES = [
    "/usr/local/dcmi:/usr/local/dcmi:ro",
    "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool:ro",
    "/etc/hccn.conf:/etc/hccn.conf:ro",
    "/root/.cache:/root/.cache",
    "/models:/models:ro",
]
DEVICES = ["/dev/davinci_manager", "/dev/hisi_hdc", "/dev/devmm_svm", *(f"/dev/davinci{i}" for i in range(8))]
HEALTH = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=5)"


def cluster_plan(image: Any = IMAGE, served_name: str | None = None, name: str = "Qwen3-8B", **options: Any) -> Plan:
    spec = replace(model(name), **{"served_name": served_name} if served_name else {})
    return plan_deployment(spec, npu=B4, platform=A2_NODES, server=SERVER, image=image, options=PlanOptions(**options))


def service_of(text: str) -> tuple[str, dict[str, Any]]:
    ((name, service),) = yaml.safe_load(text)["services"].items()
    return name, service


def node_environment(address: str, interface: str) -> dict[str, str]:
    return {
        "VLLM_USE_MODELSCOPE": "True",
        "HCCL_IF_IP": address,
        "HCCL_SOCKET_IFNAME": interface,
        "GLOO_SOCKET_IFNAME": interface,
        "TP_SOCKET_IFNAME": interface,
    }


# ---- with Ray: tp, tp-pp, ep -----------------------------------------------------------------------------------


@pytest.fixture
def ray_files() -> dict[str, str]:
    # TP 8 x PP 3 over three nodes: weights 15.2737 / 24 = 0.6364 GiB per rank; reserve 1.0 activation + 0.5
    # runtime + 0.25 TP group + 0.25 PP group = 2.0; KV 26.541 - 0.6364 - 2.0 = 23.9046 GiB; per token a rank holds
    # 36 / 3 = 12 layers x 1 KV head (8 over TP 8) x 2 x 128 x 2 B = 6,144 B -> 32,637 blocks -> 4,177,536 tokens
    p = cluster_plan(nodes=3, tp=8, pp=3, expert_parallel=False)
    return render_cluster(p, NODES, "ascendgen plan Qwen3-8B --layout tp-pp")


def test_ray_cluster_writes_one_file_per_node_with_its_header(ray_files: dict[str, str]) -> None:
    assert list(ray_files) == ["head", "worker-1", "worker-2"]
    note = (
        "# Qwen3-8B: TP 8 on 910B4 NPUs 0-7, port 8000, weights 0.6 GiB + KV cache 23.9 GiB per NPU (4,177,536 "
        "tokens), max-model-len 40,960"
    )
    about = {
        "head": "# Node 1 of 3, fd00::1 (enp1s0), head: Ray head and the API",
        "worker-1": "# Node 2 of 3, 10.0.0.2 (bond0.100), worker 1: Ray worker joining the head",
        "worker-2": "# Node 3 of 3, 10.0.0.3 (ib_1), worker 2: Ray worker joining the head",
    }
    for directory, text in ray_files.items():
        lines = text.split("\n")
        assert lines[1:4] == [
            "# Regenerate (in the parent directory): ascendgen plan Qwen3-8B --layout tp-pp",
            about[directory],
            note,
        ], directory
        read = read_generated(text)  # the hash covers the body, the recipe runs in the parent directory
        assert read.in_parent and read.by_ascendgen and not read.edited_by_hand


def test_the_ray_head_starts_ray_then_serves_one_flag_per_line(ray_files: dict[str, str]) -> None:
    name, head = service_of(ray_files["head"])
    assert (name, head["container_name"]) == ("vllm-qwen3-8b", "vllm-qwen3-8b")
    assert head["entrypoint"] == ["sh", "-c"]
    assert head["command"] == [
        "ray start --disable-usage-stats --node-ip-address=fd00::1 --head --port=6379 && "
        "exec vllm serve /models/Qwen/Qwen3-8B --served-model-name Qwen/Qwen3-8B --distributed-executor-backend ray "
        "--pipeline-parallel-size 3 --tensor-parallel-size 8 --port 8000 --max-model-len 40960"
    ]
    assert (
        "exec vllm serve /models/Qwen/Qwen3-8B \\\n        --served-model-name Qwen/Qwen3-8B \\\n" in ray_files["head"]
    )
    assert head["environment"] == {
        **node_environment("fd00::1", "enp1s0"),
        "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES": "1",
        "ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7",
    }
    assert (head["devices"], head["volumes"]) == (DEVICES, VOLUMES)
    labels = head["labels"]
    assert labels["io.ascendgen.role"] == "head" and list(labels)[-1] == "io.ascendgen.role"
    assert (labels["io.ascendgen.port"], labels["io.ascendgen.served-model-name"]) == ("8000", "Qwen/Qwen3-8B")
    assert labels["io.ascendgen.npus"] == "0,1,2,3,4,5,6,7" and labels["io.ascendgen.kv-cache-tokens"] == "4177536"
    assert head["healthcheck"]["test"] == ["CMD", "python3", "-c", HEALTH]


@pytest.mark.parametrize(("index", "address", "interface"), [(1, "10.0.0.2", "bond0.100"), (2, "10.0.0.3", "ib_1")])
def test_a_ray_worker_joins_the_head_and_has_no_api(
    ray_files: dict[str, str], index: int, address: str, interface: str
) -> None:
    name, worker = service_of(ray_files[f"worker-{index}"])
    assert (name, worker["container_name"]) == ("vllm-qwen3-8b-worker", "vllm-qwen3-8b-worker")
    assert worker["entrypoint"] == ["ray"]
    assert worker["command"] == ["start", "--block", "--disable-usage-stats", "--address=[fd00::1]:6379",
                                 f"--node-ip-address={address}"]  # fmt: skip
    assert worker["environment"] == {
        **node_environment(address, interface),
        "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES": "1",
        "ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3,4,5,6,7",
    }
    assert (worker["devices"], worker["volumes"]) == (DEVICES, VOLUMES)
    assert "healthcheck" not in worker
    # status and up read the API from the head only: no port, no served name; the role says which worker
    assert list(worker["labels"]) == [
        "io.ascendgen.model",
        "io.ascendgen.npus",
        "io.ascendgen.tensor-parallel-size",
        "io.ascendgen.model-config",
        "io.ascendgen.npu-type",
        "io.ascendgen.kv-cache-tokens",
        "io.ascendgen.memory-per-npu",
        "io.ascendgen.role",
    ]
    assert worker["labels"]["io.ascendgen.role"] == f"worker-{index}"
    assert (
        '      "start", "--block", "--disable-usage-stats",\n      "--address=[fd00::1]:6379",\n'
        in ray_files[f"worker-{index}"]
    )


def test_the_head_quotes_the_served_name_for_sh() -> None:
    """A name sh would split or expand reaches vLLM as one word (and compose's `$$` is one `$`)."""
    p = cluster_plan(served_name="$HOME's model", nodes=2, tp=8, pp=2, expert_parallel=False)
    (command,) = service_of(render_cluster(p, NODES[:2], "ascendgen plan X")["head"])[1]["command"]
    words = shlex.split(command.replace("$$", "$"))
    assert words[words.index("--served-model-name") + 1] == "$HOME's model"
    assert words[words.index("serve") + 1] == "/models/Qwen/Qwen3-8B"
    assert words[: words.index("&&")] == ["ray", "start", "--disable-usage-stats", "--node-ip-address=fd00::1",
                                          "--head", "--port=6379"]  # fmt: skip


# ---- without Ray: dp, dp-ep ----------------------------------------------------------------------------------------


@pytest.fixture
def dp_plan() -> Plan:
    # every NPU of three nodes, TP 1 (Qwen3-8B fits one 910B4): DP 24, 8 ranks per node
    p = cluster_plan(HEADLESS, nodes=3, fill=True)
    assert (p.tensor_parallel_size, p.data_parallel_size) == (1, 24)
    return p


def test_node_args_number_each_nodes_ranks_on_from_the_nodes_before_it(dp_plan: Plan) -> None:
    dp = ["--data-parallel-size", "24", "--data-parallel-size-local", "8"]
    at_head = ["--data-parallel-address", "fd00::1", "--data-parallel-rpc-port", "13389"]
    rest = ["--port", "8000", "--max-model-len", "40960"]
    served = ["--served-model-name", "Qwen/Qwen3-8B"]
    assert list(dp_node_args(dp_plan, NODES, 0)) == ["/models/Qwen/Qwen3-8B", *served, *dp, *at_head, *rest]
    for index in (1, 2):
        start = ["--data-parallel-start-rank", str(8 * index)]
        assert list(dp_node_args(dp_plan, NODES, index)) == [
            "/models/Qwen/Qwen3-8B", "--headless", *served, *dp, *start, *at_head, *rest
        ]  # fmt: skip


def test_dp_cluster_files_give_each_node_its_ranks(dp_plan: Plan) -> None:
    files = render_dp_cluster(dp_plan, NODES, "ascendgen plan Qwen3-8B --layout dp")
    assert list(files) == ["head", "worker-1", "worker-2"]
    about = [
        "# Node 1 of 3, fd00::1 (enp1s0), head: the API and data-parallel ranks 0-7",
        "# Node 2 of 3, 10.0.0.2 (bond0.100), worker 1: headless, data-parallel ranks 8-15",
        "# Node 3 of 3, 10.0.0.3 (ib_1), worker 2: headless, data-parallel ranks 16-23",
    ]
    for (directory, text), line in zip(files.items(), about, strict=True):
        lines = text.split("\n")
        assert lines[1] == "# Regenerate (in the parent directory): ascendgen plan Qwen3-8B --layout dp"
        assert lines[2] == line, directory
        assert lines[3].startswith("# Qwen3-8B: TP 1 x DP 24 on 910B4 NPUs 0-7, port 8000, ")
        assert read_generated(text).in_parent


def test_dp_head_serves_the_api_and_workers_run_headless(dp_plan: Plan) -> None:
    files = render_dp_cluster(dp_plan, NODES, "ascendgen plan Qwen3-8B --layout dp")
    name, head = service_of(files["head"])
    assert name == head["container_name"] == "vllm-qwen3-8b"
    assert head["entrypoint"] == ["vllm"]
    assert head["command"] == ["serve", *dp_node_args(dp_plan, NODES, 0)]
    assert head["environment"] == node_environment("fd00::1", "enp1s0")  # no Ray: no RAY_* nor visible devices
    assert (head["devices"], head["volumes"]) == (DEVICES, VOLUMES)
    assert head["labels"]["io.ascendgen.role"] == "head" and head["labels"]["io.ascendgen.port"] == "8000"
    assert head["healthcheck"]["test"] == ["CMD", "python3", "-c", HEALTH]
    for index, (address, interface) in ((1, ("10.0.0.2", "bond0.100")), (2, ("10.0.0.3", "ib_1"))):
        name, worker = service_of(files[f"worker-{index}"])
        assert name == worker["container_name"] == "vllm-qwen3-8b-worker"
        assert worker["entrypoint"] == ["vllm"]
        assert worker["command"] == ["serve", *dp_node_args(dp_plan, NODES, index)]
        assert worker["environment"] == node_environment(address, interface)
        assert (worker["devices"], worker["volumes"]) == (DEVICES, VOLUMES)
        assert "healthcheck" not in worker
        labels = worker["labels"]
        assert labels["io.ascendgen.role"] == f"worker-{index}"
        assert "io.ascendgen.port" not in labels and "io.ascendgen.served-model-name" not in labels


def test_dp_with_tp_counts_ranks_not_npus() -> None:
    # Qwen3-32B: 32.8e9 x 2 B = 61.1 GiB of weights, 30.5 GiB per NPU at TP 2 > 26.541 usable: TP 4, so two nodes
    # of 8 NPUs hold DP 4, 2 ranks per node
    p = cluster_plan(HEADLESS, name="Qwen3-32B", nodes=2, fill=True)
    assert (p.tensor_parallel_size, p.data_parallel_size) == (4, 4)
    worker = dp_node_args(p, NODES[:2], 1)
    assert worker[worker.index("--data-parallel-size-local") + 1] == "2"
    assert worker[worker.index("--data-parallel-start-rank") + 1] == "2"
    files = render_dp_cluster(p, NODES[:2], "ascendgen plan X")
    assert "# Node 2 of 2, 10.0.0.2 (bond0.100), worker 1: headless, data-parallel ranks 2-3\n" in files["worker-1"]
    assert "# Node 1 of 2, fd00::1 (enp1s0), head: the API and data-parallel ranks 0-1\n" in files["head"]
