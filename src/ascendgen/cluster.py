"""One model across several servers with Ray: the layouts, the nodes, and a compose file per node.

The head runs `ray start --head` and then `vllm serve ... --distributed-executor-backend ray`; each
worker runs `ray start --address=HEAD:6379 --node-ip-address=SELF --block`. Every node sets the
interfaces HCCL, Gloo and TP use, lets Ray leave ASCEND_RT_VISIBLE_DEVICES alone, and mounts hccn_tool
and /etc/hccn.conf besides the usual driver set (seed 003; vllm-ascend multi-node docs)."""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass, replace
from typing import Literal

from ascendgen.errors import InputError
from ascendgen.planner import Plan
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
}
_INTERFACE = re.compile(r"^[A-Za-z0-9_.:-]{1,15}$")


@dataclass(frozen=True)
class Node:
    address: str  # the node's IP on the network the nodes share
    interface: str  # its network interface there (HCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME, ...)

    def __str__(self) -> str:
        return f"{self.address}:{self.interface}"


def parse_node(text: str) -> Node:
    """`192.168.0.147:enp1s0` -> Node. The address is an IP: HCCL_IF_IP takes no host names."""
    address, sep, interface = text.rpartition(":")
    if not sep or not address or not interface:
        raise InputError(f"--node '{text}': expected ADDRESS:INTERFACE, e.g. 192.168.0.147:enp1s0")
    try:
        ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        raise InputError(f"--node '{text}': '{address}' is not an IP address") from None
    if not _INTERFACE.match(interface):
        raise InputError(f"--node '{text}': '{interface}' is not a network interface name")
    return Node(address.strip("[]"), interface)


def layout_sizes(layout: str, nodes: int, npus_per_node: int) -> tuple[int, int, bool]:
    """(TP, PP, expert parallel) of a layout."""
    if layout == "tp":
        return nodes * npus_per_node, 1, False
    if layout == "tp-pp":
        return npus_per_node, nodes, False
    if layout == "ep":
        return nodes * npus_per_node, 1, True
    if layout in ("tp-pp-ep", "pp-ep"):
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
                       (f"--address={head.address}:{RAY_PORT}",), (f"--node-ip-address={node.address}",)),
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
