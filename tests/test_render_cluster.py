"""render_cluster.py: one compose file per node, for the Ray layouts (tp, tp-pp, ep: a Ray head that runs the API,
Ray workers joining it) and for vLLM's own multi-node data parallel (dp, dp-ep: a head with the API, headless
nodes). The plan half (layouts, --node, memory per rank) is tests/test_cluster.py's."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_data_parallel import HEADLESS
from test_planner import IMAGE, model

from ascendgen.cluster import DP_RPC_PORT, parse_node
from ascendgen.hardware import load_hardware
from ascendgen.planner import PlanOptions, plan_deployment
from ascendgen.render_cluster import RAY_PORT, dp_node_args, render_cluster, render_dp_cluster

from helpers import Run, compose_config, only_service

HCCN = ("/usr/local/Ascend/driver/tools/hccn_tool", "/etc/hccn.conf")
NODES = (parse_node("10.0.0.1:enp1s0"), parse_node("10.0.0.2:bond0.100"), parse_node("[fd00::3]:ib_1"))
HARDWARE = load_hardware()  # the shipped a2 platform: its multinode_mounts are what a node adds
A2 = HARDWARE.platform("a2")


def ray_plan(nodes: int):  # type: ignore[no-untyped-def]
    """Qwen3-8B (36 layers) with TP 8 in a node and a pipeline stage per node, as --layout tp-pp plans it."""
    options = PlanOptions(nodes=nodes, tp=8, pp=nodes, expert_parallel=False)
    server = HARDWARE.server("atlas-800i-a2")
    return plan_deployment(model("Qwen3-8B"), npu=HARDWARE.npu_type("910B4"), platform=A2, server=server, image=IMAGE,
                           options=options)  # fmt: skip


def dp_plan(expert_parallel: bool):  # type: ignore[no-untyped-def]
    """DeepSeek-R1-W8A8 over two 64 GB servers, --layout dp-ep (or dp): TP 4 x DP 4, two ranks per node."""
    options = PlanOptions(nodes=2, fill=True, expert_parallel=expert_parallel)
    server = HARDWARE.server("atlas-800t-a2")
    return plan_deployment(model("DeepSeek-R1-W8A8"), npu=HARDWARE.npu_type("910B3"), platform=A2, server=server,
                           image=HEADLESS, options=options)  # fmt: skip


def services(files: dict[str, str]) -> dict[str, tuple[str, dict[str, Any]]]:
    """node directory -> (service name, service) as YAML reads each file."""
    read = {}
    for node, text in files.items():
        ((name, service),) = yaml.safe_load(text)["services"].items()
        read[node] = (name, service)
    return read


# ---- the Ray layouts ---------------------------------------------------------------------------------------------


def test_a_file_per_node_head_first() -> None:
    plan = ray_plan(3)
    files = render_cluster(plan, NODES, "ascendgen plan Qwen3-8B --layout tp-pp")
    assert list(files) == ["head", "worker-1", "worker-2"]
    read = services(files)
    assert [name for name, _ in read.values()] == ["vllm-qwen3-8b", "vllm-qwen3-8b-worker", "vllm-qwen3-8b-worker"]
    for node, text in files.items():
        lines = text.splitlines()
        assert lines[1] == "# Regenerate (in the parent directory): ascendgen plan Qwen3-8B --layout tp-pp", node
    heads = [text.splitlines()[2] for text in files.values()]
    assert heads == [
        "# Node 1 of 3, 10.0.0.1 (enp1s0), head: Ray head and the API",
        "# Node 2 of 3, 10.0.0.2 (bond0.100), worker 1: Ray worker joining the head",
        "# Node 3 of 3, fd00::3 (ib_1), worker 2: Ray worker joining the head",
    ]
    assert all(text.splitlines()[3].startswith("# Qwen3-8B: TP 8 on 910B4 NPUs 0-7, port ") for text in files.values())


def test_every_node_names_its_own_address_and_interface_and_leaves_the_devices_to_ray() -> None:
    plan = ray_plan(3)
    read = services(render_cluster(plan, NODES, "r"))
    for (_, service), node in zip(read.values(), NODES, strict=True):
        env = service["environment"]
        # the image's variables first, then the node's interfaces, then Ray's device handling
        assert list(env)[-6:] == ["HCCL_IF_IP", "HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME",
                                  "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES",
                                  "ASCEND_RT_VISIBLE_DEVICES"]  # fmt: skip
        assert env["HCCL_IF_IP"] == node.address  # an address alone: no brackets, even for IPv6
        assert env["HCCL_SOCKET_IFNAME"] == env["GLOO_SOCKET_IFNAME"] == env["TP_SOCKET_IFNAME"] == node.interface
        assert env["RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES"] == "1"
        assert env["ASCEND_RT_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"  # the host's numbers, every NPU of the node
        for path in HCCN:  # HCCL over RoCE: hccn_tool and its configuration, read-only, on every node
            assert f"{path}:{path}:ro" in service["volumes"]


def test_the_visible_devices_are_the_plans_npus() -> None:
    # a plan on fewer NPUs than the server has: the variable lists those, in the plan's order
    from dataclasses import replace

    plan = replace(ray_plan(2), npus=(2, 3, 6))
    for _, service in services(render_cluster(plan, NODES[:2], "r")).values():
        assert service["environment"]["ASCEND_RT_VISIBLE_DEVICES"] == "2,3,6"


def test_the_head_starts_ray_then_execs_vllm_with_the_plans_arguments() -> None:
    plan = ray_plan(3)
    files = render_cluster(plan, NODES, "r")
    _, head = services(files)["head"]
    assert head["entrypoint"] == ["sh", "-c"]
    assert head["labels"]["io.ascendgen.role"] == "head"
    assert head["labels"]["io.ascendgen.port"] == str(plan.port) and "healthcheck" in head
    (command,) = head["command"]
    ray, serve = command.split(" && ")
    assert shlex.split(ray) == ["ray", "start", "--disable-usage-stats", "--node-ip-address=10.0.0.1", "--head",
                                f"--port={RAY_PORT}"]  # fmt: skip
    assert RAY_PORT == 6379  # Ray's default GCS port (ray_constants.py DEFAULT_PORT), which the workers join
    assert shlex.split(serve) == ["exec", "vllm", "serve", *plan.serve_args]
    # one flag with its value per line in the file, the line breaks escaped inside the quoted scalar
    text = files["head"]
    assert '- "ray start --disable-usage-stats --node-ip-address=10.0.0.1 --head --port=6379 && \\\n' in text
    assert "        exec vllm serve /models/Qwen/Qwen3-8B \\\n" in text
    assert "        --pipeline-parallel-size 3 \\\n" in text
    assert "        --distributed-executor-backend ray \\\n" in text


def test_workers_join_the_head_and_serve_no_api() -> None:
    plan = ray_plan(3)
    read = services(render_cluster(plan, NODES, "r"))
    _, head = read["head"]
    for index, node in ((1, "worker-1"), (2, "worker-2")):
        name, worker = read[node]
        assert worker["container_name"] == name == "vllm-qwen3-8b-worker"
        assert worker["entrypoint"] == ["ray"]
        assert worker["command"] == ["start", "--block", "--disable-usage-stats", "--address=10.0.0.1:6379",
                                     f"--node-ip-address={NODES[index].address}"]  # fmt: skip
        assert "healthcheck" not in worker
        # status reads the API from the head only: no port, no served name; every other label kept, its role added
        kept = {k: v for k, v in head["labels"].items() if not k.endswith((".port", ".served-model-name", ".role"))}
        assert worker["labels"] == {**kept, "io.ascendgen.role": f"worker-{index}"}
        assert worker["devices"] == head["devices"] and worker["volumes"] == head["volumes"]


def test_an_ipv6_head_is_joined_in_brackets() -> None:
    nodes = (parse_node("[fd00::1]:eth0"), parse_node("[fd00::2]:eth1"))
    read = services(render_cluster(ray_plan(2), nodes, "r"))
    _, worker = read["worker-1"]
    assert worker["command"][3:] == ["--address=[fd00::1]:6379", "--node-ip-address=fd00::2"]
    (command,) = read["head"][1]["command"]
    assert command.startswith("ray start --disable-usage-stats --node-ip-address=fd00::1 --head --port=6379 && ")


def test_each_node_uses_its_own_interface_and_the_served_name_survives_compose_and_sh(
    run: Run, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # three nodes on three interfaces; a served name that compose would interpolate ($HOME) and that sh would
    # split or expand (a space, quotes) if either step were not escaped. Compose v2 itself reads the files.
    served = '$HOME "x"'
    catalog = write("mine.yaml", f"models:\n  - name: Qwen3-8B\n    served_name: {json.dumps(served)}\n")
    nodes = ["--node", "10.0.0.1:enp1s0", "--node", "10.0.0.2:bond0.100", "--node", "10.0.0.3:ib_1"]
    out = tmp_path / "out"
    result = run("plan", "Qwen3-8B", "--catalog", str(catalog), *nodes, "--layout", "tp-pp", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    expected = {"head": ("10.0.0.1", "enp1s0"), "worker-1": ("10.0.0.2", "bond0.100"), "worker-2": ("10.0.0.3", "ib_1")}
    configs = {name: only_service(compose_config(out / name)) for name in expected}
    for name, (address, interface) in expected.items():
        env = configs[name]["environment"]
        assert env["HCCL_IF_IP"] == address
        for variable in ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME"):
            assert env[variable] == interface, (name, variable)
        mounts = {(v["source"], v["target"], v.get("read_only", False)) for v in configs[name]["volumes"]}
        for path in HCCN:
            assert (path, path, True) in mounts, (name, path)
    for name in ("worker-1", "worker-2"):
        assert configs[name]["command"][-1] == f"--node-ip-address={expected[name][0]}"
    # compose reads `$$` as a literal `$` (and `config` prints it doubled again, to stay a valid compose file)
    (command,) = configs["head"]["command"]
    shell = command.replace("$$", "$")
    words = shlex.split(shell)
    assert words[words.index("--served-model-name") + 1] == served
    assert words[words.index("--pipeline-parallel-size") + 1] == "3"
    # what sh itself makes of the line: each word vLLM would get
    echoed = subprocess.run(["sh", "-c", "printf '%s\\n' " + shell.split(" && exec vllm serve ", 1)[1]],
                            capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    assert echoed[echoed.index("--served-model-name") + 1] == served
    assert run("check", "--allow-outside", *(str(out / name) for name in expected)).exit_code == 0


def test_node_files_say_which_node_they_are_for(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-32B", "--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    head = (tmp_path / "head" / "compose.yml").read_text().splitlines()
    worker = (tmp_path / "worker-1" / "compose.yml").read_text().splitlines()
    assert head[1] == (
        "# Regenerate (in the parent directory): ascendgen plan Qwen3-32B --node 10.0.0.1:eth0 --node 10.0.0.2:eth1"
    )
    assert head[2] == "# Node 1 of 2, 10.0.0.1 (eth0), head: Ray head and the API"
    assert worker[2] == "# Node 2 of 2, 10.0.0.2 (eth1), worker 1: Ray worker joining the head"
    assert head[3].startswith("# Qwen3-32B: TP 16 on 910B4 NPUs 0-7")  # TP spans both nodes' 8 NPUs


# ---- vLLM's multi-node data parallel (dp, dp-ep) -------------------------------------------------------------------

DP_NODES = (parse_node("192.168.0.147:enp1s0"), parse_node("192.168.0.35:eth1"))


def test_node_args_exactly() -> None:
    plan = dp_plan(True)
    assert (plan.tensor_parallel_size, plan.data_parallel_size) == (4, 4)  # test_data_parallel.py has the numbers
    model_path, *flags = plan.serve_args
    at = flags.index("--data-parallel-size") + 2
    placed = ["--data-parallel-size-local", "2", "--data-parallel-address", "192.168.0.147",
              "--data-parallel-rpc-port", str(DP_RPC_PORT)]  # fmt: skip
    assert dp_node_args(plan, DP_NODES, 0) == (model_path, *flags[:at], *placed, *flags[at:])
    # the other nodes: --headless right after the model, and the first rank they run (ranks 2 and 3 here)
    worker = [*placed[:2], "--data-parallel-start-rank", "2", *placed[2:]]
    assert dp_node_args(plan, DP_NODES, 1) == (model_path, "--headless", *flags[:at], *worker, *flags[at:])
    assert DP_RPC_PORT == 13389  # vllm-ascend's multi-node tutorials' port


def test_dp_files_give_each_node_its_ranks_and_the_head_the_api() -> None:
    plan = dp_plan(True)
    files = render_dp_cluster(plan, DP_NODES, "ascendgen plan DeepSeek-R1-W8A8 --layout dp-ep")
    assert list(files) == ["head", "worker-1"]
    assert [text.splitlines()[2] for text in files.values()] == [
        "# Node 1 of 2, 192.168.0.147 (enp1s0), head: the API and data-parallel ranks 0-1",
        "# Node 2 of 2, 192.168.0.35 (eth1), worker 1: headless, data-parallel ranks 2-3",
    ]
    assert files["head"].splitlines()[1].endswith("(in the parent directory): ascendgen plan DeepSeek-R1-W8A8 "
                                                  "--layout dp-ep")  # fmt: skip
    read = services(files)
    (head_name, head), (worker_name, worker) = read["head"], read["worker-1"]
    assert (head_name, worker_name) == ("vllm-deepseek-r1-w8a8", "vllm-deepseek-r1-w8a8-worker")
    assert worker["container_name"] == worker_name
    for service, node, index in ((head, DP_NODES[0], 0), (worker, DP_NODES[1], 1)):
        assert service["entrypoint"] == ["vllm"]  # no Ray, no sh -c
        assert service["command"] == ["serve", *dp_node_args(plan, DP_NODES, index)]
        env = service["environment"]
        assert list(env)[-4:] == ["HCCL_IF_IP", "HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME"]
        assert env["HCCL_IF_IP"] == node.address
        assert env["HCCL_SOCKET_IFNAME"] == env["GLOO_SOCKET_IFNAME"] == env["TP_SOCKET_IFNAME"] == node.interface
        assert "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES" not in env and "ASCEND_RT_VISIBLE_DEVICES" not in env
        for path in HCCN:
            assert f"{path}:{path}:ro" in service["volumes"]
    assert head["labels"]["io.ascendgen.role"] == "head" and "healthcheck" in head
    assert head["labels"]["io.ascendgen.port"] == "8000"
    kept = {k: v for k, v in head["labels"].items() if not k.endswith((".port", ".served-model-name", ".role"))}
    assert worker["labels"] == {**kept, "io.ascendgen.role": "worker-1"}  # headless: no API to wait for
    assert "healthcheck" not in worker


@pytest.mark.parametrize("ep", [True, False])
def test_dp_and_dp_ep_differ_only_by_expert_parallel(ep: bool) -> None:
    plan = dp_plan(ep)
    for index in (0, 1):
        args = dp_node_args(plan, DP_NODES, index)
        assert ("--enable-expert-parallel" in args) is ep
        assert args[args.index("--data-parallel-size-local") + 1] == "2"
