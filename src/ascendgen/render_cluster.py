"""One model across several servers with Ray: a compose file per node (cluster.py holds the layouts and nodes).

The head runs `ray start --head` and then `vllm serve ... --distributed-executor-backend ray`; each
worker runs `ray start --address=HEAD:6379 --node-ip-address=SELF --block`. Every node sets the
interfaces HCCL, Gloo and TP use, lets Ray leave ASCEND_RT_VISIBLE_DEVICES alone, and mounts hccn_tool
and /etc/hccn.conf besides the usual driver set (seed 003; vllm-ascend multi-node docs)."""

from __future__ import annotations

import shlex
from dataclasses import replace

from ascendgen.cluster import DP_RPC_PORT, Node, host_port, node_directory
from ascendgen.envfile import EnvRef
from ascendgen.planner import DP_FLAG, Plan
from ascendgen.render import (
    LABEL_PREFIX,
    Service,
    build_service,
    flag_lines,
    header_lines,
    plan_note,
    render_services,
    with_header,
)

RAY_PORT = 6379


def render_cluster(plan: Plan, nodes: tuple[Node, ...], regenerate: str) -> dict[str, str]:
    """compose.yml text per node directory (head, worker-1, ...)."""
    files = {}
    for index, node in enumerate(nodes):
        service = _node_service(plan, nodes, index)
        role = "head: Ray head and the API" if index == 0 else f"worker {index}: Ray worker joining the head"
        about_node = f"Node {index + 1} of {len(nodes)}, {node.address} ({node.interface}), {role}"
        header = header_lines(regenerate, [about_node, plan_note(plan)], in_parent=True)
        files[node_directory(index)] = with_header(header, render_services([service]))
    return files


def _node_service(plan: Plan, nodes: tuple[Node, ...], index: int) -> Service:
    base = build_service(plan, multinode=True)
    node, head = nodes[index], nodes[0]
    visible = ",".join(str(i) for i in plan.npus)  # device numbers inside the container are the host's
    environment = (
        *_node_environment(base, node),
        ("RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES", "1"),
        ("ASCEND_RT_VISIBLE_DEVICES", visible),
    )
    ray = ["ray", "start", "--disable-usage-stats", f"--node-ip-address={node.address}"]
    if index == 0:
        lines = [
            shlex.join([*ray, "--head", f"--port={RAY_PORT}"]) + " &&",
            "exec vllm serve " + shlex.quote(plan.serve_args[0]),
            *(shlex.join(line) for line in flag_lines(plan.serve_args[1:])),
        ]
        return replace(
            base,
            environment=environment,
            entrypoint=("sh", "-c"),
            shell_lines=tuple(lines),
            labels=(*base.labels, (f"{LABEL_PREFIX}.role", "head")),
        )
    return replace(
        _worker(base, index),
        environment=environment,
        entrypoint=("ray",),
        command_lines=(("start", "--block", "--disable-usage-stats"),
                       (f"--address={host_port(head.address, RAY_PORT)}",), (f"--node-ip-address={node.address}",)),
    )  # fmt: skip


def _node_environment(base: Service, node: Node) -> tuple[tuple[str, str | EnvRef], ...]:
    """The service's environment plus the interfaces HCCL, Gloo and TP use on this node."""
    return (
        *base.environment,
        ("HCCL_IF_IP", node.address),
        ("HCCL_SOCKET_IFNAME", node.interface),
        ("GLOO_SOCKET_IFNAME", node.interface),
        ("TP_SOCKET_IFNAME", node.interface),
    )


def _worker(base: Service, index: int) -> Service:
    """A node after the head: its own container name, no API (no port, no served name, no health check)."""
    name = f"{base.name}-worker"
    labels = tuple((k, v) for k, v in base.labels if not k.endswith((".port", ".served-model-name")))
    return replace(
        base,
        name=name,
        container_name=name,
        healthcheck=None,
        labels=(*labels, (f"{LABEL_PREFIX}.role", f"worker-{index}")),
    )


# ---- vLLM's multi-node data parallel (dp, dp-ep): no Ray, one `vllm serve` per node -------------------------------


def render_dp_cluster(plan: Plan, nodes: tuple[Node, ...], regenerate: str) -> dict[str, str]:
    """compose.yml text per node directory for a data-parallel plan: every node runs `npu_count / TP` ranks, the
    head (node 1) with the API server, the others headless, numbering their ranks on from the nodes before them."""
    files = {}
    local = plan.data_parallel_size // len(nodes)
    for index, node in enumerate(nodes):
        service = _dp_node_service(plan, nodes, index)
        ranks = f"data-parallel ranks {index * local}-{index * local + local - 1}"
        role = f"head: the API and {ranks}" if index == 0 else f"worker {index}: headless, {ranks}"
        about_node = f"Node {index + 1} of {len(nodes)}, {node.address} ({node.interface}), {role}"
        header = header_lines(regenerate, [about_node, plan_note(plan)], in_parent=True)
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
    environment = _node_environment(base, node)
    if index == 0:
        return replace(base, environment=environment, labels=(*base.labels, (f"{LABEL_PREFIX}.role", "head")))
    return replace(_worker(base, index), environment=environment)  # headless: no API server, no /health
