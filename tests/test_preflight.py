"""Preflight without an engine: container names held by other deployments, seen through a fake Docker client
passed in as `up` passes the real one. (npu-smi's process table: tests/test_npusmi.py.)"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from ascendgen import dockerengine, runtime
from ascendgen.composeconfig import ComposeConfig, ServiceConfig
from ascendgen.preflight import run_preflight

from helpers import Run

# ---- container names held by another deployment (a fake Docker client, no engine) --------------------------


@dataclass
class FakeContainer:
    name: str
    labels: dict[str, str] = field(default_factory=dict)
    status: str = "running"
    id: str = "c0ffee"
    attrs: dict[str, Any] = field(default_factory=dict)


class FakeContainers:
    def __init__(self, containers: list[FakeContainer]) -> None:
        self._containers = containers

    def list(self, all: bool = False, filters: dict[str, str] | None = None) -> list[FakeContainer]:
        found = [c for c in self._containers if all or c.status == "running"]
        if filters and "label" in filters:
            key, _, value = filters["label"].partition("=")
            found = [c for c in found if c.labels.get(key) == value]
        return found


class FakeImages:
    def get(self, name: str) -> object:
        return object()  # every image is present: nothing to pull


class FakeDocker:
    """The part of the docker SDK client preflight uses: containers.list, images.get, info, ping."""

    def __init__(self, *containers: FakeContainer) -> None:
        self.containers = FakeContainers(list(containers))
        self.images = FakeImages()

    def info(self) -> dict[str, Any]:
        return {}

    def ping(self) -> bool:
        return True


def compose_labels(project: str, service: str, working_dir: str) -> dict[str, str]:
    return {
        "com.docker.compose.project": project,
        "com.docker.compose.service": service,
        "com.docker.compose.project.working_dir": working_dir,
    }


def service(name: str = "vllm-qwen3-8b", container_name: str | None = "vllm-qwen3-8b") -> ServiceConfig:
    return ServiceConfig(name=name, container_name=container_name, image="quay.io/ascend/vllm-ascend:v0.9.2rc1",
                         devices=(), volumes=(), command=(), environment={}, labels={})  # fmt: skip


def name_problems(client: FakeDocker, project: str = "b", project_dir: Path = Path("/srv/b")) -> list[str]:
    report = run_preflight(ComposeConfig(project, (service(),)), [service()], client, project_dir=project_dir)
    return [p for p in report.problems if "container name" in p]


def test_a_name_held_by_another_directorys_deployment_says_which_and_what_to_do() -> None:
    other = FakeContainer("vllm-qwen3-8b", compose_labels("a", "vllm-qwen3-8b", "/srv/deploy a"))
    assert name_problems(FakeDocker(other)) == [
        "vllm-qwen3-8b: the container name 'vllm-qwen3-8b' belongs to the deployment in /srv/deploy a, running: "
        "stop it there (`ascendgen down '/srv/deploy a'`), or give this one another container_name in "
        "compose.override.yml"
    ]


def test_a_project_of_the_same_name_in_another_directory_is_not_ours() -> None:
    # two directories both named `qwen` give the same compose project name: up would recreate the other's container
    other = FakeContainer("vllm-qwen3-8b", compose_labels("b", "vllm-qwen3-8b", "/elsewhere/b"), status="exited")
    (problem,) = name_problems(FakeDocker(other))
    assert "belongs to the deployment in /elsewhere/b (a project of the same name, which up would take over)" in problem
    assert ", exited: stop it there (`ascendgen down /elsewhere/b`)" in problem


def test_a_container_started_without_compose() -> None:
    (problem,) = name_problems(FakeDocker(FakeContainer("vllm-qwen3-8b", status="exited")))
    assert "taken by a container compose did not start (exited): remove it (`docker rm -f vllm-qwen3-8b`)" in problem


def test_our_own_container_and_other_names_are_fine(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(tmp_path)
    ours = FakeContainer("vllm-qwen3-8b", compose_labels("b", "vllm-qwen3-8b", str(link)))
    unrelated = FakeContainer("vllm-qwen3-8b-2", compose_labels("a", "vllm-qwen3-8b", "/srv/a"))
    assert name_problems(FakeDocker(ours, unrelated), project_dir=tmp_path) == []
    assert name_problems(FakeDocker()) == []


def test_up_reports_the_other_deployment_before_starting_anything(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for out in (first, second):
        assert run("plan", "Qwen3-8B", "--host", "127.0.0.1", "--out", str(out)).exit_code == 0
    held = FakeContainer("vllm-qwen3-8b", compose_labels("first", "vllm-qwen3-8b", str(first)))
    monkeypatch.setattr(dockerengine, "docker_client", lambda timeout_s: FakeDocker(held))
    calls: list[Any] = []
    monkeypatch.setattr(runtime, "compose_up", lambda *args: calls.append(args))
    result = run("up", str(second))
    assert result.exit_code == 1 and not calls
    assert f"the container name 'vllm-qwen3-8b' belongs to the deployment in {first}, running" in result.stderr
    assert "nothing was started" in result.stderr
