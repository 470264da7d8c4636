"""One model across several servers with Ray: a compose file per node (cluster.py holds the layouts and nodes).

The head runs `ray start --head` and then `vllm serve ... --distributed-executor-backend ray`; each
worker runs `ray start --address=HEAD:6379 --node-ip-address=SELF --block`. Every node sets the
interfaces HCCL, Gloo and TP use, lets Ray leave ASCEND_RT_VISIBLE_DEVICES alone, and mounts hccn_tool
and /etc/hccn.conf besides the usual driver set (seed 003; vllm-ascend multi-node docs)."""

from __future__ import annotations

import shlex
from dataclasses import replace

from ascendgen.cluster import Node, host_port, node_directory
from ascendgen.planner import Plan
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
            *(shlex.join(line) for line in flag_lines(plan.serve_args[1:])),
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
