"""NPUs and ports for several instances on one server: pure, no I/O.

NPUs are packed without overlap. An instance that fits in one of the server's interconnect groups (on an
8-NPU A2 server: 0-3 and 4-7) gets NPUs inside one group, choosing the fullest group that still has
room, so whole groups stay free for larger instances; larger instances take whole free groups before
straddling. Ports count up from the first port, skipping those already asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ascendgen.errors import PlanError
from ascendgen.hardware import ServerProfile
from ascendgen.npuset import format_npus


@dataclass(frozen=True)
class NpuNeed:
    label: str  # how messages name the instance, e.g. "instance 2 (Qwen2.5-Coder-32B-Instruct)"
    count: int
    fixed_npus: tuple[int, ...] | None = None
    port: int | None = None


@dataclass(frozen=True)
class Placement:
    npus: tuple[int, ...]
    port: int


def place_instances(needs: Sequence[NpuNeed], server: ServerProfile, first_port: int) -> list[Placement]:
    owner: dict[int, str] = {}
    for need in needs:
        for npu in need.fixed_npus or ():
            if npu in owner:
                raise PlanError(f"NPU {npu} is asked for by both {owner[npu]} and {need.label}")
            owner[npu] = need.label
    groups = [tuple(g) for g in server.groups] or [tuple(range(server.npu_count))]
    chosen: dict[int, tuple[int, ...]] = {}
    order = sorted((i for i, n in enumerate(needs) if n.fixed_npus is None), key=lambda i: -needs[i].count)
    for index in order:
        need = needs[index]
        free = [n for n in range(server.npu_count) if n not in owner]
        if need.count > len(free):
            missing = need.count - len(free)
            raise PlanError(
                f"{need.label} needs {need.count} NPUs but only {len(free)} of {server.name}'s {server.npu_count} "
                f"are left ({format_npus(tuple(free)) or 'none'} free): {missing} NPU(s) missing"
            )
        picked = _pick(need.count, free, groups)
        for npu in picked:
            owner[npu] = need.label
        chosen[index] = picked
    ports = _ports(needs, first_port)
    return [Placement(npus=need.fixed_npus or chosen[i], port=ports[i]) for i, need in enumerate(needs)]


def _pick(count: int, free: list[int], groups: list[tuple[int, ...]]) -> tuple[int, ...]:
    free_set = set(free)
    fitting = [g for g in groups if len(g) >= count and sum(n in free_set for n in g) >= count]
    if fitting:
        # the fullest group that still has room (best fit), lowest numbers first
        group = min(fitting, key=lambda g: (sum(n in free_set for n in g), g))
        return _lowest_run([n for n in group if n in free_set], count)
    whole = [g for g in groups if all(n in free_set for n in g)]
    taken: list[int] = []
    for group in whole:
        if len(taken) + len(group) <= count:
            taken += group
    rest = [n for n in free if n not in taken]
    return tuple(sorted(taken + rest[: count - len(taken)]))


def _lowest_run(candidates: list[int], count: int) -> tuple[int, ...]:
    """`count` NPUs from `candidates`, contiguous when possible (readable: 4-7 rather than 4,6,7,9)."""
    for start in range(len(candidates) - count + 1):
        window = candidates[start : start + count]
        if window[-1] - window[0] == count - 1:
            return tuple(window)
    return tuple(candidates[:count])


def _ports(needs: Sequence[NpuNeed], first_port: int) -> list[int]:
    asked = [n.port for n in needs if n.port is not None]
    for port in set(asked):
        if asked.count(port) > 1:
            users = [n.label for n in needs if n.port == port]
            raise PlanError(f"port {port} is asked for by both {users[0]} and {users[1]}")
    used = set(asked)
    ports, candidate = [], first_port
    for need in needs:
        if need.port is not None:
            ports.append(need.port)
            continue
        while candidate in used:
            candidate += 1
        if candidate > 65535:
            raise PlanError(f"no free port left above {first_port} for {need.label}")
        ports.append(candidate)
        used.add(candidate)
    return ports
