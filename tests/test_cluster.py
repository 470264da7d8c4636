"""One model over several servers: layouts, memory per rank (derived by hand), refusals, node files.

Hand arithmetic uses the same spelled-out 910B4 constants as tests/test_planner.py (29.49 GiB visible,
util 0.9 -> 26.541 GiB usable; activation 1.0 + 1.5 for a vision model; runtime 0.5 + 0.25 per HCCL group).
Qwen3-VL-30B-A3B-Instruct (config.json): 48 layers, 32 heads, 4 KV heads, head_dim 128, 31.1 B params."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from test_planner import A2, B4, IMAGE, SERVER, model

from ascendgen.cluster import Node, host_port, layout_sizes, node_directory, parse_node
from ascendgen.errors import InputError, PlanError
from ascendgen.planner import PlanOptions, plan_deployment

from helpers import Run

NODES = ["--node", "192.168.0.147:enp1s0", "--node", "192.168.0.35:enp1s0"]


def cluster_plan(tp: int, pp: int, expert_parallel: bool):  # type: ignore[no-untyped-def]
    vl = model("Qwen3-VL-30B-A3B-Instruct")
    options = PlanOptions(nodes=2, tp=tp, pp=pp, expert_parallel=expert_parallel)
    return plan_deployment(vl, npu=B4, platform=A2, server=SERVER, image=IMAGE, options=options)


def test_tp8_pp2_memory_per_rank() -> None:
    # weights 31.1e9 x 2 B = 57.92826 GiB over TP 8 x PP 2 = 16 ranks: 3.62052 GiB each
    # runtime: 0.5 + TP group 0.25 + PP group 0.25 = 1.0 (no EP: PP and EP do not start together)
    # KV = 26.541 - 3.62052 - 2.5 - 1.0 = 19.42048 GiB
    # per token a rank holds 48 / 2 = 24 layers x max(1, 4 // 8) = 1 KV head: 2 x 24 x 1 x 128 x 2 = 12,288 B
    # 19.42048 x 2**30 / (12,288 x 128) = 13,257.x blocks -> 1,696,896 tokens
    p = cluster_plan(8, 2, False)
    assert (p.tensor_parallel_size, p.pipeline_parallel_size, p.nodes) == (8, 2, 2)
    assert p.memory.weights_gib == pytest.approx(3.62052, abs=1e-4)
    assert p.memory.runtime_gib == pytest.approx(1.0)
    assert p.kv_bytes_per_token == 12_288
    assert p.kv_cache_tokens == 1_696_896
    assert p.npus == tuple(range(8))  # every NPU of each node
    assert "--enable-expert-parallel" not in p.serve_args
    assert p.serve_args[p.serve_args.index("--pipeline-parallel-size") + 1] == "2"
    assert p.serve_args[p.serve_args.index("--distributed-executor-backend") + 1] == "ray"


def test_tp16_and_ep_differ_by_the_ep_group() -> None:
    # TP 16: runtime 0.5 + 0.25 = 0.75; KV = 26.541 - 3.62052 - 2.5 - 0.75 = 19.67048 GiB
    # per token: 48 layers x 1 KV head (4 replicated over 16): 24,576 B -> 6,714 blocks -> 859,392 tokens
    tp = cluster_plan(16, 1, False)
    assert tp.kv_bytes_per_token == 24_576 and tp.kv_cache_tokens == 859_392
    # TP 16 + EP: one more HCCL group, 1.0 runtime: 19.42048 GiB -> 6,628 blocks -> 848,384 tokens
    ep = cluster_plan(16, 1, True)
    assert ep.kv_cache_tokens == 848_384
    assert "--enable-expert-parallel" in ep.serve_args


def test_layouts() -> None:
    assert layout_sizes("tp", 2, 8) == (16, 1, False)
    assert layout_sizes("tp-pp", 2, 8) == (8, 2, False)
    assert layout_sizes("ep", 4, 8) == (32, 1, True)
    with pytest.raises(InputError, match="pipeline parallel together with expert parallel does not start"):
        layout_sizes("tp-pp-ep", 2, 8)
    with pytest.raises(InputError, match="one of tp, tp-pp, ep, dp, dp-ep"):
        layout_sizes("pp", 2, 8)
    with pytest.raises(InputError, match="pipeline parallel together with expert parallel does not start"):
        layout_sizes("dp-pp-ep", 2, 8)  # the refusal keeps its reason with the data-parallel layouts too


def test_pp_with_ep_in_the_catalog_is_refused() -> None:
    with pytest.raises(PlanError, match="pipeline parallel together with expert parallel"):
        cluster_plan(8, 2, None)  # None: keep the catalog's --enable-expert-parallel


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("192.168.0.1", "expected ADDRESS:INTERFACE"),
        ("host:eth0", "not an IP address"),
        (":eth0", "expected ADDRESS:INTERFACE"),
        ("fd00::1:eth0", r"write an IPv6 address in brackets, \[fd00::1\]:eth0"),
        ("[10.0.0.1]:eth0", "brackets are for IPv6"),
        ("[fe80::1]:eth0", "fe80::1 is a link-local address"),
        ("169.254.10.1:eth0", "is a link-local address"),
        ("[fe80::1%eth0]:eth0", "zone ids"),
        ("0.0.0.0:eth0", "is an unspecified address"),
        ("[::]:eth0", "is an unspecified address"),
        ("224.0.0.1:eth0", "is a multicast address"),
        ("10.0.0.1:eth 0", "not a network interface"),
        ("10.0.0.1:a/b", "not a network interface"),
        ("10.0.0.1:.", "not a network interface"),
        ("10.0.0.1:..", "not a network interface"),
        ("10.0.0.1:eth0,eth1", "not a network interface"),
        ("10.0.0.1:^docker", "not a network interface"),
        ("10.0.0.1:" + "e" * 16, "not a network interface"),
        ("10.0.0.1:eth0\n", "not a network interface"),
    ],
)
def test_bad_node(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_node(text)


@pytest.mark.parametrize("node", ["[fe80::1]:eth0", "10.0.0.1:eth0\n", "fd00::1:eth0"])
def test_bad_node_on_the_command_line_is_one_line(run: Run, tmp_path, node: str) -> None:  # type: ignore[no-untyped-def]
    result = run("plan", "Qwen3-32B", "--node", node, "--node", "10.0.0.2:eth0", "--out", str(tmp_path))
    assert result.exit_code == 2 and result.stderr.startswith("error: --node ") and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("text", "address", "interface", "written"),
    [
        ("192.168.0.147:enp1s0", "192.168.0.147", "enp1s0", "192.168.0.147:enp1s0"),
        ("[fd00::147]:enp1s0", "fd00::147", "enp1s0", "[fd00::147]:enp1s0"),
        ("[FD00:0:0::147]:bond0.100", "fd00::147", "bond0.100", "[fd00::147]:bond0.100"),
        ("[2001:db8::1]:" + "e" * 15, "2001:db8::1", "e" * 15, "[2001:db8::1]:" + "e" * 15),
    ],
)
def test_good_node(text: str, address: str, interface: str, written: str) -> None:
    node = parse_node(text)
    assert (node.address, node.interface, str(node)) == (address, interface, written)
    assert parse_node(str(node)) == node  # what the recipe records reads back as the same node


def test_cli_writes_one_file_per_node_and_check_reads_them(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    result = run("plan", "Qwen3-235B-A22B", *NODES, "--npu-type", "910B3", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "fits on one" not in result.stdout  # 437.7 GiB of weights need both servers
    head = yaml.safe_load((tmp_path / "head" / "compose.yml").read_text())
    worker = yaml.safe_load((tmp_path / "worker-1" / "compose.yml").read_text())
    assert list(head["services"]) == ["vllm-qwen3-235b-a22b"]
    assert list(worker["services"]) == ["vllm-qwen3-235b-a22b-worker"]
    assert "healthcheck" in head["services"]["vllm-qwen3-235b-a22b"]
    assert run("check", str(tmp_path / "head"), str(tmp_path / "worker-1")).exit_code == 0


def test_cli_refusals(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    one_node = run("plan", "Qwen3-8B", "--node", "10.0.0.1:eth0", "--dry-run")
    assert one_node.exit_code == 2 and "two or more --node" in one_node.stderr
    dense_ep = run("plan", "Qwen3-32B", *NODES, "--layout", "ep", "--dry-run")
    assert dense_ep.exit_code == 2 and "--layout ep is for MoE models" in dense_ep.stderr
    with_tp = run("plan", "Qwen3-32B", *NODES, "--tp", "8", "--dry-run")
    assert with_tp.exit_code == 2 and "drop --tp/--npus" in with_tp.stderr
    same = run("plan", "Qwen3-32B", "--node", "10.0.0.1:eth0", "--node", "10.0.0.1:eth1", "--dry-run")
    assert same.exit_code == 2 and "its own address" in same.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("layout", ["tp", "tp-pp", "ep", "dp"])
def test_layout_without_nodes_is_refused(run: Run, tmp_path, layout: str) -> None:  # type: ignore[no-untyped-def]
    result = run("plan", "Qwen3-30B-A3B", "--layout", layout, "--out", str(tmp_path))
    assert result.exit_code == 2, result
    assert f"--layout {layout} spreads one model over several servers" in result.stderr
    assert "--node ADDRESS:INTERFACE" in result.stderr and result.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []


def test_ipv6_nodes_are_written_with_brackets_where_a_port_follows(run: Run, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import subprocess

    nodes = ["--node", "[fd00::1]:eth0", "--node", "[fd00::2]:eth1"]
    result = run("plan", "Qwen3-VL-30B-A3B-Instruct", *nodes, "--layout", "tp-pp", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    configs = {}
    for node in ("head", "worker-1"):
        done = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=tmp_path / node,
                              capture_output=True, text=True, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        (configs[node],) = json.loads(done.stdout)["services"].values()
    worker = configs["worker-1"]
    assert worker["command"] == ["start", "--block", "--disable-usage-stats", "--address=[fd00::1]:6379",
                                 "--node-ip-address=fd00::2"]  # fmt: skip
    assert worker["environment"]["HCCL_IF_IP"] == "fd00::2"  # an address alone: no brackets
    assert worker["environment"]["GLOO_SOCKET_IFNAME"] == "eth1"
    head = configs["head"]
    assert "--node-ip-address=fd00::1 --head --port=6379" in head["command"][0]
    assert head["environment"]["HCCL_IF_IP"] == "fd00::1"
    header = (tmp_path / "head" / "compose.yml").read_text()
    assert "--node '[fd00::1]:eth0' --node '[fd00::2]:eth1'" in header
    assert run("check", str(tmp_path / "head"), str(tmp_path / "worker-1")).exit_code == 0


def test_loopback_nodes_plan_with_a_warning_for_one_host_test_setups(run: Run, tmp_path: Path) -> None:
    result = run(
        "plan", "Qwen3-8B", "--node", "127.0.0.1:lo", "--node", "127.0.0.2:lo", "--out", str(tmp_path), "--json"
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert any("127.0.0.1, 127.0.0.2 is loopback" in w for w in result.json()["warnings"])
    real = run("plan", "Qwen3-8B", "--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth0", "--dry-run", "--json")
    assert not any("loopback" in w for w in real.json()["warnings"])


EXAMPLE = "e.g. 192.168.0.147:enp1s0 or [fd00::147]:enp1s0"
UNREACHABLE = "address, which the other servers cannot reach; give the node's address on the network the nodes share"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1", f"--node '10.0.0.1': expected ADDRESS:INTERFACE, {EXAMPLE}"),
        (":eth0", f"--node ':eth0': expected ADDRESS:INTERFACE, {EXAMPLE}"),
        ("10.0.0.1:", f"--node '10.0.0.1:': expected ADDRESS:INTERFACE, {EXAMPLE}"),
        ("[fd00::1:eth0", f"--node '[fd00::1:eth0': '[fd00::1' is not an IP address ({EXAMPLE})"),
        ("fd00::1]:eth0", f"--node 'fd00::1]:eth0': 'fd00::1]' is not an IP address ({EXAMPLE})"),
        ("[zz]:eth0", f"--node '[zz]:eth0': '[zz]' is not an IP address ({EXAMPLE})"),  # as typed, brackets too
        ("[fe80::1%eth0]:eth0", "--node '[fe80::1%eth0]:eth0': zone ids ('%') are not taken; give the node's address "
                                f"on the network the nodes share, {EXAMPLE}"),
        ("fd00::1:eth0", "--node 'fd00::1:eth0': write an IPv6 address in brackets, [fd00::1]:eth0"),
        ("[10.0.0.1]:eth0", "--node '[10.0.0.1]:eth0': brackets are for IPv6 addresses; write 10.0.0.1:eth0"),
        ("0.0.0.0:eth0", f"--node '0.0.0.0:eth0': 0.0.0.0 is an unspecified {UNREACHABLE}"),
        ("224.0.0.1:eth0", f"--node '224.0.0.1:eth0': 224.0.0.1 is a multicast {UNREACHABLE}"),
        ("[ff02::1]:eth0", f"--node '[ff02::1]:eth0': ff02::1 is a multicast {UNREACHABLE}"),
        ("169.254.0.9:eth0", f"--node '169.254.0.9:eth0': 169.254.0.9 is a link-local {UNREACHABLE}"),
        ("10.0.0.1:a b", "--node '10.0.0.1:a b': 'a b' is not a network interface name (1-15 letters, digits, '_', "
                         "'.', '-'; see `ip -br addr`)"),
        ("10.0.0.1:..", "--node '10.0.0.1:..': '..' is not a network interface name (1-15 letters, digits, '_', "
                        "'.', '-'; see `ip -br addr`)"),
    ],
)  # fmt: skip
def test_node_refusals_exactly(text: str, message: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_node(text)
    assert str(refused.value) == message


@pytest.mark.parametrize("text", ["10.0.0.1:" + "e" * 15, "10.0.0.1:e", "10.0.0.1:a.", "10.0.0.1:..."])
def test_interface_names_at_the_edges_are_taken(text: str) -> None:
    # 15 bytes is IFNAMSIZ 16 less the NUL; only "." and ".." are names the kernel refuses for their dots
    assert parse_node(text).interface == text.split(":", 1)[1]


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        ("tp-pp-ep", "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: "
                     "TP+PP+EP fails at start-up); use --layout tp-pp or --layout ep"),
        ("pp-ep", "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: "
                  "TP+PP+EP fails at start-up); use --layout tp-pp or --layout ep"),
        ("dp-pp", "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: "
                  "TP+PP+EP fails at start-up); use --layout tp-pp or --layout ep"),
        ("dp", "--layout dp has no fixed TP: the planner chooses it for each data-parallel rank"),
        ("dp-ep", "--layout dp-ep has no fixed TP: the planner chooses it for each data-parallel rank"),
        ("TP", "--layout 'TP': one of tp, tp-pp, ep, dp, dp-ep"),
    ],
)  # fmt: skip
def test_layout_refusals_exactly(layout: str, message: str) -> None:
    with pytest.raises(InputError) as refused:
        layout_sizes(layout, 2, 8)
    assert str(refused.value) == message


def test_layout_sizes_follow_the_node_count_and_npus_per_node() -> None:
    # TP spans every NPU of every node (3 x 4 = 12) for tp and ep; tp-pp puts TP in a node and a stage per node
    assert layout_sizes("tp", 3, 4) == (12, 1, False)
    assert layout_sizes("tp-pp", 3, 4) == (4, 3, False)
    assert layout_sizes("ep", 3, 4) == (12, 1, True)


def test_addresses_with_a_port_and_node_directories() -> None:
    assert host_port("10.0.0.1", 6379) == "10.0.0.1:6379"
    assert host_port("fd00::1", 6379) == "[fd00::1]:6379"  # else `fd00::1:6379` reads as an address
    assert host_port("fd00::1", None) == "[fd00::1]"
    assert host_port("10.0.0.1", None) == "10.0.0.1"
    assert host_port("10.0.0.1", 0) == "10.0.0.1:0"  # a port, though falsy
    assert str(Node("10.0.0.1", "eth0")) == "10.0.0.1:eth0"
    assert [node_directory(i) for i in range(3)] == ["head", "worker-1", "worker-2"]
