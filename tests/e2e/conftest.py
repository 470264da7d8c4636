"""End-to-end fixtures: a real Docker Engine, the stand-in vllm-ascend image and a fake NPU host.

The engine must be running (scripts/install-test-deps.sh starts it): when it is not, these tests fail
rather than skip, so CI cannot pass without them."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deployment import Deployment, free_port
from fakehost import QWEN2_5_7B_INSTRUCT_CONFIG, QWEN3_8B_CONFIG, FakeHost, make_fake_npu_host, write_hardware_file
from helpers import Result
from standin.build import build_standin_image

STANDIN_IMAGE = "ascendgen-standin:test"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    done = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.fail(f"no Docker Engine: run scripts/install-test-deps.sh first ({done.stderr.strip()[:200]})")
    compose = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False)
    if compose.returncode != 0 or not compose.stdout.strip().lstrip("v").startswith("2"):
        pytest.fail("no Compose v2 plugin: run scripts/install-test-deps.sh first")


@pytest.fixture(scope="session")
def standin_image(docker_engine: None) -> str:
    image = build_standin_image(STANDIN_IMAGE)
    # containers left by an interrupted earlier run would hold the container names
    leftovers = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"ancestor={image}"], capture_output=True, text=True, check=True
    ).stdout.split()
    if leftovers:
        subprocess.run(["docker", "rm", "-f", *leftovers], capture_output=True, check=False)
    return image


@pytest.fixture
def fake_host(tmp_path: Path) -> FakeHost:
    return make_fake_npu_host(
        tmp_path / "host",
        models={"Qwen/Qwen3-8B": QWEN3_8B_CONFIG, "Qwen/Qwen2.5-7B-Instruct": QWEN2_5_7B_INSTRUCT_CONFIG},
    )


@pytest.fixture
def hardware_file(tmp_path: Path, fake_host: FakeHost) -> Path:
    """A server profile whose device and driver paths live under the fake host (tests only)."""
    return write_hardware_file(tmp_path / "fake-hardware.yaml", fake_host)


@pytest.fixture
def deploy(
    run: Callable[..., Result],
    tmp_path: Path,
    fake_host: FakeHost,
    hardware_file: Path,
    standin_image: str,
) -> Iterator[Callable[..., Deployment]]:
    """Plan MODEL into a directory of its own (a compose project), on the fake host and the stand-in
    image; every project is taken down after the test."""
    made: list[Deployment] = []

    def _deploy(model: str = "Qwen3-8B", *args: str, name: str | None = None) -> Deployment:
        port = free_port()
        directory = tmp_path / (name or f"deploy{len(made)}")
        result = run(
            "plan", model, "--server", "fake-a2", "--hardware", str(hardware_file), "--image", standin_image,
            "--models-dir", str(fake_host.models), "--port", str(port), "--out", str(directory), *args,
        )  # fmt: skip
        assert result.exit_code == 0, result.stderr
        service = "vllm-" + model.lower().replace(".", "-")
        deployment = Deployment(directory=directory, port=port, service=service)
        made.append(deployment)
        return deployment

    yield _deploy
    for deployment in made:
        subprocess.run(
            ["docker", "compose", "down", "--timeout", "2"], cwd=deployment.directory, capture_output=True, check=False
        )
