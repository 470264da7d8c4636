"""One model over several servers: layouts, memory per rank (derived by hand), refusals, node files.

Hand arithmetic uses the same spelled-out 910B4 constants as tests/test_planner.py (29.49 GiB visible,
util 0.9 -> 26.541 GiB usable; activation 1.0 + 1.5 for a vision model; runtime 0.5 + 0.25 per HCCL group).
Qwen3-VL-30B-A3B-Instruct (config.json): 48 layers, 32 heads, 4 KV heads, head_dim 128, 31.1 B params."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_planner import A2, B4, IMAGE, SERVER, model

from ascendgen.cluster import layout_sizes, parse_node
from ascendgen.errors import InputError, PlanError
from ascendgen.planner import PlanOptions, plan_deployment

from helpers import Result

Run = Callable[..., Result]
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
    with pytest.raises(InputError, match="one of tp, tp-pp, ep"):
        layout_sizes("dp", 2, 8)


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


def compose_config(directory: Path) -> dict[str, Any]:
    done = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=directory, capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (service,) = json.loads(done.stdout)["services"].values()
    return service  # type: ignore[no-any-return]


def test_each_node_uses_its_own_interface_and_the_served_name_survives_compose_and_sh(
    run: Run, write: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # three nodes on three different interfaces; a served name that compose would interpolate ($HOME) and that
    # sh would split or expand (a space, quotes) if either step were not escaped
    served = '$HOME "x"'
    catalog = write("mine.yaml", f"models:\n  - name: Qwen3-8B\n    served_name: {json.dumps(served)}\n")
    nodes = ["--node", "10.0.0.1:enp1s0", "--node", "10.0.0.2:bond0.100", "--node", "10.0.0.3:ib_1"]
    out = tmp_path / "out"
    result = run("plan", "Qwen3-8B", "--catalog", str(catalog), *nodes, "--layout", "tp-pp", "--out", str(out))
    assert result.exit_code == 0, result.stderr
    expected = {"head": ("10.0.0.1", "enp1s0"), "worker-1": ("10.0.0.2", "bond0.100"), "worker-2": ("10.0.0.3", "ib_1")}
    configs = {name: compose_config(out / name) for name in expected}
    for name, (address, interface) in expected.items():
        env = configs[name]["environment"]
        assert env["HCCL_IF_IP"] == address
        for variable in ("HCCL_SOCKET_IFNAME", "GLOO_SOCKET_IFNAME", "TP_SOCKET_IFNAME"):
            assert env[variable] == interface, (name, variable)
        assert env["ASCEND_RT_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
        assert env["RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES"] == "1"
    for index, name in ((1, "worker-1"), (2, "worker-2")):
        worker = configs[name]
        assert worker["entrypoint"] == ["ray"]
        assert worker["command"] == ["start", "--block", "--disable-usage-stats", "--address=10.0.0.1:6379",
                                     f"--node-ip-address={expected[name][0]}"]  # fmt: skip
        assert worker["labels"]["io.ascendgen.role"] == f"worker-{index}"
        assert worker["container_name"] == "vllm-qwen3-8b-worker"
        assert "io.ascendgen.port" not in worker["labels"] and "healthcheck" not in worker
        assert "io.ascendgen.served-model-name" not in worker["labels"]  # status reads the API from the head only
    for name in expected:  # HCCL over RoCE needs hccn_tool and its configuration on every node
        mounts = {(v["source"], v["target"], v.get("read_only", False)) for v in configs[name]["volumes"]}
        for path in ("/usr/local/Ascend/driver/tools/hccn_tool", "/etc/hccn.conf"):
            assert (path, path, True) in mounts, (name, path)
    head = configs["head"]
    assert head["entrypoint"] == ["sh", "-c"]
    assert head["labels"]["io.ascendgen.role"] == "head"
    # compose reads `$$` as a literal `$` (and `config` prints it doubled again, to stay a valid compose file)
    (command,) = head["command"]
    shell = command.replace("$$", "$")
    words = shlex.split(shell)
    assert words[:7] == ["ray", "start", "--disable-usage-stats", "--node-ip-address=10.0.0.1", "--head",
                         "--port=6379", "&&"]  # fmt: skip
    assert words[7:11] == ["exec", "vllm", "serve", "/models/Qwen/Qwen3-8B"]
    assert words[words.index("--served-model-name") + 1] == served
    assert words[words.index("--pipeline-parallel-size") + 1] == "3"
    assert words[words.index("--distributed-executor-backend") + 1] == "ray"
    # written one flag (with its value) per line, the served name quoted for sh
    text = (out / "head" / "compose.yml").read_text()
    assert "exec vllm serve /models/Qwen/Qwen3-8B \\\n" in text
    assert "--served-model-name '$$HOME \\\"x\\\"' \\\n" in text
    assert "--pipeline-parallel-size 3 \\\n" in text
    # what sh itself makes of the line: echo each word vLLM would get
    echoed = subprocess.run(["sh", "-c", "printf '%s\\n' " + shell.split(" && exec vllm serve ", 1)[1]],
                            capture_output=True, text=True, check=True).stdout.splitlines()  # fmt: skip
    assert echoed[echoed.index("--served-model-name") + 1] == served
    nodes_dirs = [str(out / name) for name in expected]
    assert run("check", "--allow-outside", *nodes_dirs).exit_code == 0  # the catalog is outside out/


def test_node_files_say_which_node_they_are_for(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-32B", "--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    head = (tmp_path / "head" / "compose.yml").read_text().splitlines()
    worker = (tmp_path / "worker-1" / "compose.yml").read_text().splitlines()
    assert head[1].startswith("# Regenerate (in the parent directory): ascendgen plan Qwen3-32B --node 10.0.0.1:eth0")
    assert head[2] == "# Node 1 of 2, 10.0.0.1 (eth0), head: Ray head and the API"
    assert worker[2] == "# Node 2 of 2, 10.0.0.2 (eth1), worker 1: Ray worker joining the head"
    assert head[3].startswith("# Qwen3-32B: TP 16 on 910B4 NPUs 0-7")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("10.0.0.1", "--node '10.0.0.1': expected ADDRESS:INTERFACE, e.g. 192.168.0.147:enp1s0 or [fd00::147]:enp1s0"),
        ("[fd00::1:eth0", "--node '[fd00::1:eth0': '[fd00::1' is not an IP address (e.g. 192.168.0.147:enp1s0 or "
                          "[fd00::147]:enp1s0)"),
        ("0.0.0.0:eth0", "--node '0.0.0.0:eth0': 0.0.0.0 is an unspecified address, which the other servers cannot "
                         "reach; give the node's address on the network the nodes share"),
        ("10.0.0.1:a b", "--node '10.0.0.1:a b': 'a b' is not a network interface name (1-15 letters, digits, "
                         "'_', '.', '-'; see `ip -br addr`)"),
    ],
)  # fmt: skip
def test_node_refusals_exactly(text: str, message: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_node(text)
    assert str(refused.value) == message


@pytest.mark.parametrize("layout", ["tp-pp-ep", "pp-ep"])
def test_pipeline_with_expert_parallel_layouts_are_refused(layout: str) -> None:
    with pytest.raises(InputError) as refused:
        layout_sizes(layout, 2, 8)
    assert str(refused.value) == (
        "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: TP+PP+EP fails at "
        "start-up); use --layout tp-pp or --layout ep"
    )
