"""One model across several servers, as planned: the layouts and the nodes. With Ray (tp, tp-pp, ep) or without
(dp, dp-ep: vLLM's multi-node data parallel, the head with the API and the others `--headless`).
render_cluster.py lays the plan out as a compose file per node."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from ascendgen.errors import InputError

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
