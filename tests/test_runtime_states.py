"""runtime without an engine: container states read from a fake Docker client (tests/helpers.py), as `up`,
`status` and the readiness wait see them, and when a state counts as a failure."""

from __future__ import annotations

from datetime import UTC, datetime

from ascendgen.composeconfig import ComposeConfig, ServiceConfig
from ascendgen.runtime import _failed, container_states, is_ready

from helpers import FakeClient, FakeContainer


def service(name: str) -> ServiceConfig:
    return ServiceConfig(name=name, container_name=name, image="x", devices=(), volumes=(), command=(),
                         environment={}, labels={})  # fmt: skip


def container(name: str, project: str, state: dict[str, object], restarts: int = 0) -> FakeContainer:
    made = FakeContainer(name, project, b"")
    made.attrs = {"State": state, "RestartCount": restarts}
    return made


def test_states_of_a_projects_containers() -> None:
    client = FakeClient([
        container("a", "p", {"Status": "running", "Health": {"Status": "healthy"},
                             "StartedAt": "2026-01-02T03:04:05.123456789Z"}),
        container("b", "p", {"Status": "exited", "ExitCode": 137, "StartedAt": "0001-01-01T00:00:00Z"}),
        container("c", "other", {"Status": "running"}),  # another project's container of the same service name
    ])  # fmt: skip
    services = [service("a"), service("b"), service("c")]
    states = container_states(client, ComposeConfig("p", tuple(services)), services)
    a, b, c = states["a"], states["b"], states["c"]
    assert (a.status, a.health, a.exit_code, a.container_id, a.container_name) == ("running", "healthy", None,
                                                                                    "id-a", "a")  # fmt: skip
    assert a.started_at == datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)  # nanoseconds cut to microseconds
    assert a.uptime_s is not None and a.uptime_s >= 0
    assert (b.status, b.exit_code, b.started_at, b.uptime_s) == ("exited", 137, None, None)
    assert (c.status, c.container_id, c.restart_count) == ("missing", None, 0)


def test_which_states_are_failures() -> None:
    client = FakeClient([
        container("exited", "p", {"Status": "exited", "ExitCode": 1}),
        container("looping", "p", {"Status": "running"}, restarts=2),
        container("restarting", "p", {"Status": "restarting"}, restarts=1),
        container("unhealthy", "p", {"Status": "running", "Health": {"Status": "unhealthy"}}),
        container("starting", "p", {"Status": "running", "Health": {"Status": "starting"}}, restarts=1),
    ])  # fmt: skip
    names = ["exited", "looping", "restarting", "unhealthy", "starting", "gone"]
    services = [service(n) for n in names]
    states = container_states(client, ComposeConfig("p", tuple(services)), services)
    assert {n: _failed(states[n]) for n in names} == {
        "exited": "its container exited with code 1",
        "looping": "its container restarts in a loop (2 restarts)",
        "restarting": "its container restarts in a loop (1 restarts)",
        "unhealthy": "its health check fails (/health does not answer 200)",
        "starting": None,  # one restart of a running container is not yet a loop
        "gone": "its container is gone",
    }
    # a service without an API (a Ray worker) is ready once running and not unhealthy
    assert is_ready(services[4], states["starting"]) is False
    healthy = container_states(FakeClient([container("w", "p", {"Status": "running"})]), ComposeConfig("p", ()),
                               [service("w")])["w"]  # fmt: skip
    assert is_ready(service("w"), healthy) is True
