"""dockerengine.py: the one way to the Docker Engine, a client that answered a ping or the one-line reason."""

from __future__ import annotations

from typing import Any

import pytest

from ascendgen import dockerengine
from ascendgen.dockerengine import connect_docker, unreachable


class Engine:
    def __init__(self, problem: Exception | None = None) -> None:
        self.problem = problem
        self.pings = 0

    def ping(self) -> bool:
        self.pings += 1
        if self.problem is not None:
            raise self.problem
        return True


def use(monkeypatch: pytest.MonkeyPatch, make: Any) -> list[float]:
    timeouts: list[float] = []

    def client(timeout_s: float) -> Any:
        timeouts.append(timeout_s)
        return make()

    monkeypatch.setattr(dockerengine, "docker_client", client)
    return timeouts


def test_a_client_that_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = Engine()
    timeouts = use(monkeypatch, lambda: engine)
    assert connect_docker() == (engine, None)
    assert engine.pings == 1 and timeouts == [30]
    assert connect_docker(timeout_s=10)[0] is engine and timeouts[-1] == 10


def test_a_ping_that_fails_gives_its_first_line(monkeypatch: pytest.MonkeyPatch) -> None:
    error = ConnectionError("Error while fetching server API version: ('Connection aborted.')\n  more detail")
    use(monkeypatch, lambda: Engine(error))
    assert connect_docker() == (None, "Error while fetching server API version: ('Connection aborted.')")


def test_a_client_that_cannot_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> Any:
        raise FileNotFoundError()

    use(monkeypatch, refuse)
    assert connect_docker() == (None, "FileNotFoundError")  # no text: the error's type


def test_no_engine_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    client, reason = connect_docker(timeout_s=2)
    assert client is None and reason


def test_what_a_command_says_when_the_engine_is_away() -> None:
    assert unreachable("permission denied") == (
        "the Docker Engine is not reachable (permission denied): start it (`systemctl start docker`)"
    )
