"""Preflight without an engine: reading npu-smi's process table (format from DESIGN.md 4b, A2 servers), and
container names held by other deployments, seen through a fake Docker client passed in as `up` passes the
real one."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from ascendgen import preflight as preflight_module
from ascendgen.cli import runtime_commands
from ascendgen.composeconfig import ComposeModel, Mount, ServiceConfig
from ascendgen.preflight import parse_npu_smi_processes, run_preflight

from helpers import Result

NPU_SMI_A2 = """\
+------------------------------------------------------------------------------------------------+
| npu-smi 24.1.rc3                 Version: 24.1.rc3                                             |
+---------------------------+---------------+----------------------------------------------------+
| NPU   Name                | Health        | Power(W)    Temp(C)           Hugepages-Usage(page)|
| Chip                      | Bus-Id        | AICore(%)   Memory-Usage(MB)  HBM-Usage(MB)        |
+===========================+===============+====================================================+
| 0     910B4               | OK            | 93.4        45                0    / 0             |
| 0                         | 0000:C1:00.0  | 0           0    / 0          19887/ 32768         |
+===========================+===============+====================================================+
| 1     910B4               | OK            | 86.0        44                0    / 0             |
| 0                         | 0000:C2:00.0  | 0           0    / 0          2883 / 32768         |
+===========================+===============+====================================================+
+---------------------------+---------------+----------------------------------------------------+
| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |
+===========================+===============+====================================================+
| 0       0                 | 124528        | python3.8                | 17400                   |
+===========================+===============+====================================================+
| No running processes found in NPU 1                                                            |
+===========================+===============+====================================================+
"""


def test_busy_npus_from_process_table() -> None:
    assert parse_npu_smi_processes(NPU_SMI_A2) == {0: (124528, "python3.8")}


def test_idle_server_has_no_busy_npus() -> None:
    table_start = NPU_SMI_A2.index("| NPU     Chip")
    idle = NPU_SMI_A2[:table_start] + (
        "| NPU     Chip              | Process id    | Process name             | Process memory(MB)      |\n"
        "+===========================+===============+====================================================+\n"
        "| No running processes found in NPU 0                                                            |\n"
        "| No running processes found in NPU 1                                                            |\n"
    )
    assert parse_npu_smi_processes(idle) == {}


def test_no_output() -> None:
    assert parse_npu_smi_processes("") == {}


def test_process_seen_from_a_container_has_no_name() -> None:
    row = "| 3       0                 | 8812          |                          | 30000                   |"
    table = NPU_SMI_A2.replace(
        "| 0       0                 | 124528        | python3.8                | 17400                   |", row
    )
    assert parse_npu_smi_processes(table) == {3: (8812, "unnamed")}


# ---- container names held by another deployment (a fake Docker client, no engine) --------------------------

Run = Callable[..., Result]


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
    report = run_preflight(ComposeModel(project, (service(),)), [service()], client, project_dir=project_dir)
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
    monkeypatch.setattr(runtime_commands, "_docker_client", lambda: FakeDocker(held))
    calls: list[Any] = []
    monkeypatch.setattr(runtime_commands, "compose_up", lambda *args: calls.append(args))
    result = run("up", str(second))
    assert result.exit_code == 1 and not calls
    assert f"the container name 'vllm-qwen3-8b' belongs to the deployment in {first}, running" in result.stderr
    assert "nothing was started" in result.stderr


# ---- every check of run_preflight on its own, engine-free: a fake Docker client, files under tmp_path -------

DRIVER = "/usr/local/Ascend/driver"


def npu_service(
    name: str,
    npus: tuple[int, ...] = (),
    *,
    volumes: tuple[Mount, ...] = (),
    labels: dict[str, str] | None = None,
    command: tuple[str, ...] = (),
    devices: tuple[Mount, ...] | None = None,
) -> ServiceConfig:
    """A service with /dev/null standing in for each NPU device (a character device every host has)."""
    if devices is None:
        devices = tuple(Mount("/dev/null", f"/dev/davinci{i}", False) for i in npus)
    return ServiceConfig(name=name, container_name=name, image="quay.io/ascend/vllm-ascend:v0.9.2rc1",
                         devices=devices, volumes=volumes, command=command, environment={},
                         labels=labels or {})  # fmt: skip


def preflight(*services: ServiceConfig, client: Any = None, project: str = "p") -> list[str]:
    return run_preflight(ComposeModel(project, services), list(services), client).problems


@pytest.fixture(autouse=True)
def compose_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose v2 present (npu-smi is not on a test machine's PATH; one test puts a fake one there)."""
    monkeypatch.setattr(preflight_module, "compose_available", lambda: "2.40.3")


def test_a_healthy_service_has_no_problem() -> None:
    assert preflight(npu_service("a", (0, 1)), npu_service("b", (2, 3))) == []


def test_an_npu_given_to_two_services_is_named_once_per_clash() -> None:
    problems = preflight(npu_service("a", (0, 1)), npu_service("b", (1, 2)), npu_service("c", (2,)))
    assert problems == [
        "NPU 1 is given to both a and b: each NPU serves one instance",
        "NPU 2 is given to both b and c: each NPU serves one instance",
    ]


def test_a_missing_read_only_driver_path_is_named(tmp_path: Path) -> None:
    there = tmp_path / "dcmi"
    there.mkdir()
    volumes = (
        Mount(str(tmp_path / "no-driver"), DRIVER, True),  # missing, read-only: the driver
        Mount(str(there), "/usr/local/dcmi", True),  # present
        Mount(str(tmp_path / "no-cache"), "/root/.cache", False),  # missing, writable: compose creates it
        Mount(str(tmp_path / "no-models"), "/models", True),  # the model check's business, not the driver's
    )
    assert preflight(npu_service("a", (0,), volumes=volumes)) == [
        f"a: driver path {tmp_path / 'no-driver'} is missing on this host (is the Ascend driver installed? see "
        "`cat /usr/local/Ascend/driver/version.info`)"
    ]


def test_devices_that_are_missing_or_not_character_devices(tmp_path: Path) -> None:
    dev = tmp_path / "dev"  # a host root elsewhere (a server profile's host_root)
    dev.mkdir()
    plain = dev / "davinci3"
    plain.write_text("")
    devices = (
        Mount(str(dev / "davinci_manager"), "/dev/davinci_manager", False),
        Mount("/dev/null", "/dev/davinci0", False),
        Mount(str(dev / "davinci7"), "/dev/davinci7", False),
        Mount(str(plain), "/dev/davinci3", False),
    )
    assert preflight(npu_service("a", devices=devices)) == [
        f"a: device {dev / 'davinci_manager'} does not exist on this host (is the Ascend driver installed and loaded?)",
        f"a: device {dev / 'davinci7'} does not exist on this host (check `ls /dev/davinci*` and plan with --npus "
        "on NPUs that exist)",
        f"a: {plain} is not a character device (check `ls /dev/davinci*` and plan with --npus on NPUs that exist)",
    ]


def test_a_port_in_use_is_named_unless_the_service_already_runs_there() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        busy = npu_service("a", (0,), labels={"io.ascendgen.port": str(port)})
        assert preflight(busy) == [f"a: port {port} is already in use on this host (plan with another --port)"]
        # the port of a service whose own container runs is its own: not a problem
        ours = FakeContainer("a", compose_labels("p", "a", "/srv/p"), attrs={"State": {"Status": "running"}})
        assert preflight(busy, client=FakeDocker(ours)) == []
    assert preflight(busy) == []  # released


def model_service(models: Path, config: dict[str, Any] | str | None, *, nested: bool = False) -> ServiceConfig:
    folder = models / "Qwen" / "Qwen3-8B"
    if config is not None:
        folder.mkdir(parents=True, exist_ok=True)
        text = config if isinstance(config, str) else json.dumps({"text_config": config} if nested else config)
        (folder / "config.json").write_text(text)
    labels = {
        "io.ascendgen.model": "Qwen3-8B",
        "io.ascendgen.model-config": "num_attention_heads=32,num_key_value_heads=8,num_hidden_layers=36",
    }
    return npu_service("a", (0,), volumes=(Mount(str(models), "/models", True),), labels=labels,
                       command=("serve", "/models/Qwen/Qwen3-8B", "--port", "8000"))  # fmt: skip


QWEN3_8B = {"num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 36}


def test_the_model_folder_holds_the_planned_model(tmp_path: Path) -> None:
    assert preflight(model_service(tmp_path / "m1", QWEN3_8B)) == []
    assert preflight(model_service(tmp_path / "m2", QWEN3_8B, nested=True)) == []  # a VL model's text_config


def test_a_config_json_that_disagrees_with_the_plan_is_named(tmp_path: Path) -> None:
    other = {**QWEN3_8B, "num_key_value_heads": 4, "num_hidden_layers": 48}
    config = tmp_path / "m" / "Qwen" / "Qwen3-8B" / "config.json"
    assert preflight(model_service(tmp_path / "m", other)) == [
        f"a: {config} says num_key_value_heads 4, but the plan for Qwen3-8B expects 8: that folder holds another "
        "model, or the catalog entry is wrong",
        f"a: {config} says num_hidden_layers 48, but the plan for Qwen3-8B expects 36: that folder holds another "
        "model, or the catalog entry is wrong",
    ]


def test_a_model_folder_that_is_missing_or_not_a_model(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "Qwen" / "Qwen3-8B"
    assert preflight(model_service(tmp_path / "m", None)) == [
        f"a: model directory {folder} does not exist (download the model there, or fix --models-dir)"
    ]
    folder.mkdir(parents=True)
    assert preflight(model_service(tmp_path / "m", None)) == [
        f"a: {folder / 'config.json'} is missing: {folder} does not hold a Hugging Face model"
    ]
    (problem,) = preflight(model_service(tmp_path / "m", "{not json"))
    assert problem.startswith(f"a: {folder / 'config.json'} is not valid JSON (")


def test_npus_held_by_another_projects_container_are_named() -> None:
    def holder(name: str, project: str, npu: int) -> FakeContainer:
        devices = [{"PathOnHost": f"/dev/davinci{npu}", "PathInContainer": f"/dev/davinci{npu}"}]
        return FakeContainer(name, {"com.docker.compose.project": project}, attrs={"HostConfig": {"Devices": devices}})

    client = FakeDocker(holder("other-vllm", "q", 1), holder("ours", "p", 0), holder("idle", "q", 5))
    devices = tuple(Mount(f"/dev/davinci{i}", f"/dev/davinci{i}", False) for i in (0, 1))
    problems = preflight(npu_service("a", devices=devices), client=client)
    assert [p for p in problems if "held by" in p] == [
        "a: NPU 1 is held by running container 'other-vllm' (stop it, or plan on free NPUs with --npus)"
    ]


def test_npus_in_use_per_npu_smi(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # an npu-smi on PATH that prints the A2 table: NPU 0 is used by process 124528 (python3.8), NPU 1 is free
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "table.txt").write_text(NPU_SMI_A2)
    npu_smi = bin_dir / "npu-smi"
    npu_smi.write_text(f'#!/bin/sh\n[ "$1" = info ] && exec cat {bin_dir / "table.txt"}\nexit 1\n')
    npu_smi.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    assert preflight(npu_service("a", (0, 1)), npu_service("b", (2,))) == [
        "a: NPU 0 is in use by process 124528 (python3.8) per npu-smi (stop it, or plan on free NPUs with --npus)"
    ]


def test_compose_v2_missing_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight_module, "compose_available", lambda: None)
    assert preflight(npu_service("a", (0,))) == [
        "Docker Compose v2 is missing: install the compose plugin (`docker compose version`)"
    ]


def test_images_to_pull_and_the_disk_space_they_need(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoImages(FakeImages):
        def get(self, name: str) -> object:
            raise LookupError(name)  # the SDK raises docker.errors.ImageNotFound

    client = FakeDocker()
    client.images = NoImages()
    monkeypatch.setattr(client, "info", lambda: {"DockerRootDir": "/var/lib/docker"})
    usage = type("Usage", (), {"free": 20 * 1024**3})
    monkeypatch.setattr(preflight_module.shutil, "disk_usage", lambda path: usage)
    a, b = npu_service("a", (0,)), npu_service("b", (1,))
    report = run_preflight(ComposeModel("p", (a, b)), [a, b], client)
    assert report.images_to_pull == ["quay.io/ascend/vllm-ascend:v0.9.2rc1"]
    assert report.problems == []  # one image of about 16 GiB, 20 GiB free
    b = ServiceConfig(**{**b.__dict__, "image": "quay.io/ascend/vllm-ascend:v0.11.0rc3"})
    report = run_preflight(ComposeModel("p", (a, b)), [a, b], client)
    assert report.problems == [
        "only 20.0 GiB free under /var/lib/docker; pulling quay.io/ascend/vllm-ascend:v0.11.0rc3, "
        "quay.io/ascend/vllm-ascend:v0.9.2rc1 needs about 32 GiB (free space, or `docker image prune`)"
    ]


def test_an_engine_that_cannot_be_reached_says_how_to_start_it() -> None:
    def refused() -> Any:
        raise ConnectionError("Error while fetching server API version: ('Connection aborted.'\nmore")

    assert preflight_module.engine_problem(refused) == (
        None,
        "the Docker Engine is not reachable (Error while fetching server API version: ('Connection aborted.'): "
        "start it (`systemctl start docker`)",
    )
    client = FakeDocker()
    assert preflight_module.engine_problem(lambda: client) == (client, None)


def test_a_same_named_project_elsewhere_holding_one_of_our_services_under_another_name() -> None:
    # compose finds containers by project and service labels: `up` would take this one over, whatever its name
    unrelated = FakeContainer("web", compose_labels("z", "web", "/srv/z"))
    ours = FakeContainer("vllm-qwen3-8b-old", compose_labels("b", "vllm-qwen3-8b", "/srv/b"))
    other = FakeContainer("qwen-old", compose_labels("b", "vllm-qwen3-8b", "/elsewhere/b"), status="exited")
    assert name_problems(FakeDocker(unrelated, ours, other)) == [
        "vllm-qwen3-8b: the container name 'qwen-old' belongs to the deployment in /elsewhere/b (a project of the "
        "same name, which up would take over), exited: stop it there (`ascendgen down /elsewhere/b`), or give this "
        "one another container_name in compose.override.yml"
    ]


def test_a_holder_without_a_working_dir_or_a_state_is_named_by_its_project() -> None:
    bare = FakeContainer("vllm-qwen3-8b", {"com.docker.compose.project": "a"}, status="")
    assert name_problems(FakeDocker(FakeContainer("web"), bare)) == [
        "vllm-qwen3-8b: the container name 'vllm-qwen3-8b' belongs to compose project 'a', present: stop it there "
        "(`docker compose -p a down`), or give this one another container_name in compose.override.yml"
    ]


def test_our_own_containers_do_not_hide_another_projects_npus() -> None:
    def holder(name: str, project: str, npu: int) -> FakeContainer:
        devices = [{"PathOnHost": f"/dev/davinci{npu}"}, {"PathInContainer": "/dev/x"}]
        return FakeContainer(name, {"com.docker.compose.project": project}, attrs={"HostConfig": {"Devices": devices}})

    devices = tuple(Mount(f"/dev/davinci{i}", f"/dev/davinci{i}", False) for i in (0, 1))
    client = FakeDocker(holder("ours", "p", 0), FakeContainer("no-devices"), holder("other-vllm", "q", 1))
    problems = preflight(npu_service("a", devices=devices), client=client)
    assert [p for p in problems if "held by" in p] == [
        "a: NPU 1 is held by running container 'other-vllm' (stop it, or plan on free NPUs with --npus)"
    ]


@pytest.mark.parametrize("nested", ["text_config", "llm_config", "language_config"])
def test_a_multimodal_config_is_checked_by_its_language_model(tmp_path: Path, nested: str) -> None:
    folder = tmp_path / "m" / "Qwen" / "Qwen3-8B"
    folder.mkdir(parents=True)
    wrong = {**QWEN3_8B, "num_hidden_layers": 48}
    (folder / "config.json").write_text(json.dumps({"vision_config": {"num_attention_heads": 16}, nested: wrong}))
    (problem,) = preflight(model_service(tmp_path / "m", None))
    assert "says num_hidden_layers 48, but the plan for Qwen3-8B expects 36" in problem
    # numbers at the top level win over a nested config
    (folder / "config.json").write_text(json.dumps({**QWEN3_8B, nested: wrong}))
    assert preflight(model_service(tmp_path / "m", None)) == []


def test_only_well_formed_parts_of_the_model_label_are_checked(tmp_path: Path) -> None:
    service = model_service(tmp_path / "m", {**QWEN3_8B, "num_hidden_layers": 48})
    odd = "num_attention_heads=32,junk=1=2,=5,num_hidden_layers=x"
    assert preflight(replace(service, labels={**service.labels, "io.ascendgen.model-config": odd})) == []
    unlabelled = {k: v for k, v in service.labels.items() if k != "io.ascendgen.model-config"}
    assert preflight(replace(service, labels=unlabelled)) == []


def test_npu_smi_is_found_where_the_service_mounts_it_and_its_exit_code_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # not on PATH: the host path the service bind-mounts at /usr/local/bin/npu-smi (a server's host_root); npu-smi
    # exits 1 after printing the table, as it does when one NPU is in a bad state
    (tmp_path / "table.txt").write_text(NPU_SMI_A2)
    npu_smi = tmp_path / "npu-smi"
    npu_smi.write_text(f"#!/bin/sh\ncat {tmp_path / 'table.txt'}\nexit 1\n")
    npu_smi.chmod(0o755)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    mounted = npu_service("a", (0,), volumes=(Mount(str(npu_smi), "/usr/local/bin/npu-smi", True),))
    assert preflight(mounted) == [
        "a: NPU 0 is in use by process 124528 (python3.8) per npu-smi (stop it, or plan on free NPUs with --npus)"
    ]


def test_images_are_looked_up_by_name_and_the_disk_checked_under_dockers_root(monkeypatch: pytest.MonkeyPatch) -> None:
    present = {"quay.io/ascend/vllm-ascend:v0.9.2rc1"}

    class SomeImages(FakeImages):
        def get(self, name: str) -> object:
            if name not in present:
                raise LookupError(name)
            return object()

    client = FakeDocker()
    client.images = SomeImages()
    asked: list[str] = []

    def usage(path: str) -> Any:
        asked.append(path)
        return type("Usage", (), {"free": 1024**3})

    monkeypatch.setattr(preflight_module.shutil, "disk_usage", usage)
    a = npu_service("a", (0,))
    assert run_preflight(ComposeModel("p", (a,)), [a], client).images_to_pull == []
    b = replace(a, name="b", image="quay.io/ascend/vllm-ascend:v0.11.0rc3")
    report = run_preflight(ComposeModel("p", (b,)), [b], client)
    assert report.images_to_pull == ["quay.io/ascend/vllm-ascend:v0.11.0rc3"]
    assert asked == ["/var/lib/docker"]  # info() gave no DockerRootDir: the default
    assert report.problems == [
        "only 1.0 GiB free under /var/lib/docker; pulling quay.io/ascend/vllm-ascend:v0.11.0rc3 needs about 16 GiB "
        "(free space, or `docker image prune`)"
    ]


def test_an_engine_error_without_a_message_is_named_by_its_type() -> None:
    def refused() -> Any:
        raise FileNotFoundError

    assert preflight_module.engine_problem(refused) == (
        None,
        "the Docker Engine is not reachable (FileNotFoundError): start it (`systemctl start docker`)",
    )
