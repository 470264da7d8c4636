"""NPUs and ports for several instances on one server: pure, no I/O.

NPUs are packed without overlap, in the order the instances are given. An instance that fits in one of
the server's interconnect groups (on an 8-NPU A2 server: 0-3 and 4-7) gets NPUs inside one group, the
fullest group that still has room (best fit), so whole groups stay free for larger instances; larger
instances take whole free groups before straddling. Ports count up from the first port, skipping those
already asked for."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ascendgen.errors import PlanError
from ascendgen.hardware import ServerProfile


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
    fixed: dict[int, str] = {}
    for need in needs:
        for npu in need.fixed_npus or ():
            if npu in fixed:
                raise PlanError(f"NPU {npu} is asked for by both {fixed[npu]} and {need.label}")
            fixed[npu] = need.label
    _check_total(needs, server, fixed)
    groups = [tuple(g) for g in server.groups] or [tuple(range(server.npu_count))]
    # in the order given: the first instance gets the lowest NPUs
    taken = set(fixed)
    chosen: dict[int, tuple[int, ...]] = {}
    for index, need in enumerate(needs):
        if need.fixed_npus is None:
            chosen[index] = _pick(need.count, [n for n in range(server.npu_count) if n not in taken], groups)
            taken.update(chosen[index])
    ports = _ports(needs, first_port)
    return [Placement(npus=need.fixed_npus or chosen[i], port=ports[i]) for i, need in enumerate(needs)]


def _check_total(needs: Sequence[NpuNeed], server: ServerProfile, fixed: dict[int, str]) -> None:
    """Name the first instance, in the order given, for which no NPUs are left."""
    left = server.npu_count - len(fixed)
    for need in needs:
        if need.fixed_npus is not None:
            continue
        if need.count > left:
            missing = sum(n.count for n in needs if n.fixed_npus is None) - (server.npu_count - len(fixed))
            raise PlanError(
                f"{need.label} needs {need.count} NPUs but only {left} of {server.name}'s {server.npu_count} "
                f"are left after the instances before it: {missing} NPU(s) missing"
            )
        left -= need.count


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
