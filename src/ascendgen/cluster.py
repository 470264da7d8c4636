"""One model across several servers: the layouts, the nodes, and a compose file per node.

With Ray (tp, tp-pp, ep), the head runs `ray start --head` and then `vllm serve ... --distributed-executor-backend
ray`; each worker runs `ray start --address=HEAD:6379 --node-ip-address=SELF --block`. Every node sets the
interfaces HCCL, Gloo and TP use, lets Ray leave ASCEND_RT_VISIBLE_DEVICES alone, and mounts hccn_tool
and /etc/hccn.conf besides the usual driver set (seed 003; vllm-ascend multi-node docs).

Without Ray (dp, dp-ep: vLLM's multi-node data parallel), every node runs `vllm serve` with its share of the
data-parallel ranks: the head with the API, the others `--headless` (render_dp_cluster)."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, replace
from typing import Literal

from ascendgen.errors import InputError
from ascendgen.planner import DP_FLAG, Plan
from ascendgen.render import (
    LABEL_PREFIX,
    Service,
    build_service,
    header_lines,
    render_services,
    with_header,
)

RAY_PORT = 6379
Layout = Literal["tp", "tp-pp", "ep"]
LAYOUTS: dict[str, str] = {
    "tp": "tensor parallel across all NPUs of all nodes (TP 16 over 2 x 8)",
    "tp-pp": "tensor parallel within a node, pipeline parallel across nodes (TP 8 x PP 2)",
    "ep": "tensor parallel across nodes with expert parallel, for MoE models",
    "dp": "data parallel across nodes, TP within a node (vLLM's multi-node data parallel, no Ray)",
    "dp-ep": "data parallel across nodes with expert parallel over all of them, for large MoE models",
}
# The data-parallel layouts and whether each turns expert parallel on (dp-ep) or leaves it out (dp), as the Ray
# layouts do. vllm-ascend's multi-node tutorials run them without Ray: DeepSeek-R1-W8A8 (v0.23.0
# docs/source/tutorials/models/DeepSeek-R1.md, 2 x A2: --data-parallel-size 4 --data-parallel-size-local 2
# --tensor-parallel-size 4 --enable-expert-parallel), Qwen3-235B-A22B (v0.18.0), Kimi-K2 (v0.11.0 multi_node_kimi.md).
DP_LAYOUTS: dict[str, bool] = {"dp": False, "dp-ep": True}
# --data-parallel-rpc-port, the same on every node; the port vllm-ascend's multi-node tutorials use.
DP_RPC_PORT = 13389
# A Linux interface name (net/core/dev.c, dev_valid_name): 1 to 15 bytes (IFNAMSIZ 16 with the NUL), no '/',
# ':' or whitespace, not "." or "..". Of what the kernel allows, only the characters names use in practice:
# the *_SOCKET_IFNAME variables read ',' as a list separator and a leading '^' or '=' as a prefix rule.
_INTERFACE = re.compile(r"[A-Za-z0-9_.-]{1,15}")


@dataclass(frozen=True)
class Node:
    address: str  # the node's IP on the network the nodes share, as ipaddress writes it (no brackets)
    interface: str  # its network interface there (HCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME, ...)

    def __str__(self) -> str:
        return f"{host_port(self.address, None)}:{self.interface}"


def host_port(address: str, port: int | None) -> str:
    """An address with a port after it: an IPv6 address goes in brackets (RFC 3986 3.2.2), or its last group
    would read as the port (`fd00::1:6379`). With `port` None, only the bracketed address."""
    host = f"[{address}]" if ":" in address else address
    return host if port is None else f"{host}:{port}"


def parse_node(text: str) -> Node:
    """`192.168.0.147:enp1s0` or `[fd00::147]:enp1s0` -> Node. The address is an IP: HCCL_IF_IP takes no host
    names. It must reach the other servers as it is: not unspecified, multicast or link-local (a link-local
    address means nothing without a zone, `fe80::1%eth0`, and Ray and HCCL take no zone). Loopback addresses
    are taken, with a warning from the plan: nodes that are containers on one host (a test setup)."""
    example = "e.g. 192.168.0.147:enp1s0 or [fd00::147]:enp1s0"
    address, sep, interface = text.rpartition(":")
    if not sep or not address or not interface:
        raise InputError(f"--node '{text}': expected ADDRESS:INTERFACE, {example}")
    bracketed = address.startswith("[") and address.endswith("]")
    bare = address[1:-1] if bracketed else address
    if "%" in bare:
        raise InputError(f"--node '{text}': zone ids ('%') are not taken; give the node's address on the network "
                         f"the nodes share, {example}")  # fmt: skip
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        raise InputError(f"--node '{text}': '{address}' is not an IP address ({example})") from None
    if ip.version == 6 and not bracketed:
        raise InputError(f"--node '{text}': write an IPv6 address in brackets, [{ip}]:{interface}")
    if ip.version == 4 and bracketed:
        raise InputError(f"--node '{text}': brackets are for IPv6 addresses; write {ip}:{interface}")
    unusable = next(
        (what for what, flag in [("an unspecified", ip.is_unspecified), ("a multicast", ip.is_multicast),
                                 ("a link-local", ip.is_link_local)] if flag),
        None,
    )  # fmt: skip
    if unusable:
        raise InputError(
            f"--node '{text}': {ip} is {unusable} address, which the other servers cannot reach; give the node's "
            "address on the network the nodes share"
        )
    if not _INTERFACE.fullmatch(interface) or interface in (".", ".."):
        raise InputError(
            f"--node '{text}': '{interface}' is not a network interface name (1-15 letters, digits, '_', '.', '-'; "
            "see `ip -br addr`)"
        )
    return Node(str(ip), interface)


def layout_sizes(layout: str, nodes: int, npus_per_node: int) -> tuple[int, int, bool]:
    """(TP, PP, expert parallel) of a layout."""
    if layout == "tp":
        return nodes * npus_per_node, 1, False
    if layout == "tp-pp":
        return npus_per_node, nodes, False
    if layout == "ep":
        return nodes * npus_per_node, 1, True
    if layout in DP_LAYOUTS:
        raise InputError(f"--layout {layout} has no fixed TP: the planner chooses it for each data-parallel rank")
    if layout in ("tp-pp-ep", "pp-ep", "dp-pp", "dp-pp-ep"):
        raise InputError(
            "pipeline parallel together with expert parallel does not start on vllm-ascend (seed 003: TP+PP+EP "
            "fails at start-up); use --layout tp-pp or --layout ep"
        )
    raise InputError(f"--layout '{layout}': one of {', '.join(LAYOUTS)}")


def node_directory(index: int) -> str:
    return "head" if index == 0 else f"worker-{index}"


def render_cluster(plan: Plan, nodes: tuple[Node, ...], regenerate: str) -> dict[str, str]:
    """compose.yml text per node directory (head, worker-1, ...)."""
    files = {}
    for index, node in enumerate(nodes):
        service = _node_service(plan, nodes, index)
        header = header_lines([plan], regenerate, in_parent=True)
        role = "head: Ray head and the API" if index == 0 else f"worker {index}: Ray worker joining the head"
        header.insert(2, f"# Node {index + 1} of {len(nodes)}, {node.address} ({node.interface}), {role}")
        files[node_directory(index)] = with_header(header, render_services([service]))
    return files


def _node_service(plan: Plan, nodes: tuple[Node, ...], index: int) -> Service:
    base = build_service(plan, multinode=True)
    node, head = nodes[index], nodes[0]
    visible = ",".join(str(i) for i in plan.npus)  # device numbers inside the container are the host's
    environment = (
        *base.environment,
        ("HCCL_IF_IP", node.address),
        ("HCCL_SOCKET_IFNAME", node.interface),
        ("GLOO_SOCKET_IFNAME", node.interface),
        ("TP_SOCKET_IFNAME", node.interface),
        ("RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES", "1"),
        ("ASCEND_RT_VISIBLE_DEVICES", visible),
    )
    ray = ["ray", "start", "--disable-usage-stats", f"--node-ip-address={node.address}"]
    if index == 0:
        lines = [
            shlex.join([*ray, "--head", f"--port={RAY_PORT}"]) + " &&",
            "exec vllm serve " + shlex.quote(plan.serve_args[0]),
            *_flag_lines(plan.serve_args[1:]),
        ]
        return replace(
            base,
            environment=environment,
            entrypoint=("sh", "-c"),
            shell_lines=tuple(lines),
            labels=(*base.labels, (f"{LABEL_PREFIX}.role", "head")),
        )
    name = f"{base.name}-worker"
    labels = tuple((k, v) for k, v in base.labels if not k.endswith((".port", ".served-model-name")))
    return replace(
        base,
        name=name,
        container_name=name,
        environment=environment,
        entrypoint=("ray",),
        command_lines=(("start", "--block", "--disable-usage-stats"),
                       (f"--address={host_port(head.address, RAY_PORT)}",), (f"--node-ip-address={node.address}",)),
        healthcheck=None,
        labels=(*labels, (f"{LABEL_PREFIX}.role", f"worker-{index}")),
    )  # fmt: skip


def _flag_lines(args: tuple[str, ...]) -> list[str]:
    lines: list[list[str]] = []
    for arg in args:
        if arg.startswith("--") or not lines:
            lines.append([arg])
        else:
            lines[-1].append(arg)
    return [shlex.join(line) for line in lines]


# ---- vLLM's multi-node data parallel (dp, dp-ep): no Ray, one `vllm serve` per node -------------------------------


def render_dp_cluster(plan: Plan, nodes: tuple[Node, ...], regenerate: str) -> dict[str, str]:
    """compose.yml text per node directory for a data-parallel plan: every node runs `npu_count / TP` ranks, the
    head (node 1) with the API server, the others headless, numbering their ranks on from the nodes before them."""
    files = {}
    local = plan.data_parallel_size // len(nodes)
    for index, node in enumerate(nodes):
        service = _dp_node_service(plan, nodes, index)
        header = header_lines([plan], regenerate, in_parent=True)
        ranks = f"data-parallel ranks {index * local}-{index * local + local - 1}"
        role = f"head: the API and {ranks}" if index == 0 else f"worker {index}: headless, {ranks}"
        header.insert(2, f"# Node {index + 1} of {len(nodes)}, {node.address} ({node.interface}), {role}")
        files[node_directory(index)] = with_header(header, render_services([service]))
    return files


def dp_node_args(plan: Plan, nodes: tuple[Node, ...], index: int) -> tuple[str, ...]:
    """The plan's serve arguments for node `index`: after `--data-parallel-size N` come the ranks this node runs,
    the head's address and the RPC port; the nodes after the head run `--headless` from their first rank on. As in
    vllm-ascend's tutorials (v0.23.0 DeepSeek-R1.md): `--data-parallel-size-local`, `--data-parallel-address`
    (the head's IP on every node), `--data-parallel-rpc-port` (the same everywhere), and on the other nodes
    `--headless --data-parallel-start-rank`. Every vLLM in images.yaml (>= 0.9.1) parses them: the -local/-address/
    -rpc-port flags and `--headless` / `--data-parallel-start-rank` on `vllm serve` since vLLM 0.9.0."""
    local = plan.data_parallel_size // len(nodes)
    args = list(plan.serve_args)
    at = args.index(DP_FLAG) + 2
    extra = ["--data-parallel-size-local", str(local)]
    if index > 0:
        extra += ["--data-parallel-start-rank", str(index * local)]
    extra += ["--data-parallel-address", nodes[0].address, "--data-parallel-rpc-port", str(DP_RPC_PORT)]
    args[at:at] = extra
    if index > 0:
        args.insert(1, "--headless")  # right after the model, as the tutorials' node 1 writes it first
    return tuple(args)


def _dp_node_service(plan: Plan, nodes: tuple[Node, ...], index: int) -> Service:
    base = build_service(replace(plan, serve_args=dp_node_args(plan, nodes, index)), multinode=True)
    node = nodes[index]
    environment = (
        *base.environment,
        ("HCCL_IF_IP", node.address),
        ("HCCL_SOCKET_IFNAME", node.interface),
        ("GLOO_SOCKET_IFNAME", node.interface),
        ("TP_SOCKET_IFNAME", node.interface),
    )
    if index == 0:
        return replace(base, environment=environment, labels=(*base.labels, (f"{LABEL_PREFIX}.role", "head")))
    name = f"{base.name}-worker"
    labels = tuple((k, v) for k, v in base.labels if not k.endswith((".port", ".served-model-name")))
    return replace(
        base,
        name=name,
        container_name=name,
        environment=environment,
        healthcheck=None,  # headless: no API server, no /health
        labels=(*labels, (f"{LABEL_PREFIX}.role", f"worker-{index}")),
    )
