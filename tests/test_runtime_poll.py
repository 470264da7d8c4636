"""How often `up` polls while it waits (runtime.wait_until_ready): soon at first, then every half second, so that
it returns well within a second of the API answering (bench/bench_up.py measures it on the stand-in)."""

from __future__ import annotations

import pytest

from ascendgen import runtime
from ascendgen.composeconfig import ComposeConfig, ServiceConfig

from helpers import FakeClient, FakeContainer

# a service without an API port (like a Ray worker) is ready once its container runs
SERVICE = ServiceConfig(
    name="svc", container_name=None, image="x", devices=(), volumes=(), command=(), environment={}, labels={}
)


def starting_container() -> FakeContainer:
    container = FakeContainer("svc", "p", b"")
    container.attrs = {"State": {"Status": "created"}, "RestartCount": 0}
    return container


@pytest.mark.parametrize(("polls", "waits"), [(1, [0.1]), (3, [0.1, 0.2, 0.4]), (6, [0.1, 0.2, 0.4, 0.5, 0.5, 0.5])])
def test_the_first_polls_come_soon_then_every_half_second(
    polls: int, waits: list[float], monkeypatch: pytest.MonkeyPatch
) -> None:
    container = starting_container()
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == polls:  # the service is ready at the next poll
            container.attrs = {"State": {"Status": "running"}, "RestartCount": 0}

    monkeypatch.setattr(runtime.time, "sleep", sleep)
    _, failures = runtime.wait_until_ready(
        FakeClient([container]), ComposeConfig("p", (SERVICE,)), [SERVICE], timeout_s=60
    )
    assert failures == []
    assert slept == waits
    assert max(slept) <= runtime.POLL_SECONDS < 1  # a service that became ready is seen within a second


def test_a_service_ready_at_once_is_not_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    container = starting_container()
    container.attrs = {"State": {"Status": "running"}, "RestartCount": 0}
    monkeypatch.setattr(runtime.time, "sleep", lambda seconds: pytest.fail("slept"))
    _, failures = runtime.wait_until_ready(
        FakeClient([container]), ComposeConfig("p", (SERVICE,)), [SERVICE], timeout_s=60
    )
    assert failures == []
