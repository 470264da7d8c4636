"""Preflight without an engine: reading npu-smi's process table (format from DESIGN.md 4b, A2 servers), and
container names held by other deployments, seen through a fake Docker client passed in as `up` passes the
real one."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from ascendgen import dockerengine, preflight, runtime
from ascendgen.composeconfig import ComposeConfig, Mount, ServiceConfig
from ascendgen.hostnet import HostNetwork
from ascendgen.preflight import run_preflight

from fakehost import make_fake_npu_host, write_hardware_file
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


# ---- NPUs held by another deployment's running container ------------------------------------------------------


def npu_service(npus: tuple[int, ...] = (0,)) -> ServiceConfig:
    devices = tuple(Mount(f"/dev/davinci{n}", f"/dev/davinci{n}", False) for n in npus)
    return ServiceConfig(name="vllm-qwen3-8b", container_name="vllm-qwen3-8b", image="img", devices=devices,
                         volumes=(), command=(), environment={}, labels={})  # fmt: skip


def holding(name: str, labels: dict[str, str], *npus: int, runtime_env: str | None = None) -> FakeContainer:
    attrs: dict[str, Any] = {"HostConfig": {"Devices": [{"PathOnHost": f"/dev/davinci{n}"} for n in npus]}}
    if runtime_env is not None:  # the Ascend Docker Runtime lists the NPUs instead of mapping them
        attrs = {"HostConfig": {"Runtime": "ascend", "Devices": []}, "Config": {"Env": [runtime_env, "PATH=/bin"]}}
    return FakeContainer(name, labels, attrs=attrs)


def held_problems(client: FakeDocker, project: str = "b", project_dir: Path = Path("/srv/b")) -> list[str]:
    svc = npu_service((0, 1))
    report = run_preflight(ComposeConfig(project, (svc,)), [svc], client, project_dir=project_dir)
    return [p for p in report.problems if "is held by" in p]


def test_an_npu_held_by_another_directorys_deployment_names_it_and_how_to_stop_it() -> None:
    other = holding("vllm-qwen2-5-7b", compose_labels("a", "vllm-qwen2-5-7b", "/srv/deploy a"), 1, 4)
    assert held_problems(FakeDocker(other)) == [
        "vllm-qwen3-8b: NPU 1 is held by running container 'vllm-qwen2-5-7b' of the deployment in /srv/deploy a "
        "(stop it there: `ascendgen down '/srv/deploy a'`, or plan on free NPUs with --npus)"
    ]


def test_a_project_of_the_same_name_elsewhere_holds_npus_too() -> None:
    same_name = holding("vllm-x", compose_labels("b", "vllm-x", "/elsewhere/b"), 0)
    (problem,) = held_problems(FakeDocker(same_name))
    assert "NPU 0 is held by running container 'vllm-x' of the deployment in /elsewhere/b" in problem
    ours = holding("vllm-x", compose_labels("b", "vllm-x", "/srv/b"), 0)
    assert held_problems(FakeDocker(ours)) == []  # our own container: compose recreates it


def test_npus_held_through_the_ascend_docker_runtime_or_without_compose() -> None:
    runtime_held = holding("gpustack-worker", {}, runtime_env="ASCEND_VISIBLE_DEVICES=0,1")
    problems = held_problems(FakeDocker(runtime_held))
    assert [p.split(":")[1].strip() for p in problems] == [
        "NPU 0 is held by running container 'gpustack-worker' started without compose (stop it",
        "NPU 1 is held by running container 'gpustack-worker' started without compose (stop it",
    ]
    assert "`docker stop gpustack-worker`" in problems[0]
    project_only = holding("c", {"com.docker.compose.project": "p q"}, 1)
    (problem,) = held_problems(FakeDocker(project_only))
    assert "of compose project 'p q' (stop it: `docker compose -p 'p q' down`" in problem


# ---- multi-node: interfaces, the node's address, hccn, Ray's port, shared memory ---------------------------------

LO_AND_ENP = HostNetwork(
    interfaces=frozenset({"lo", "enp1s0", "eth1"}),
    addresses={
        "lo": (ipaddress.ip_interface("127.0.0.1/8"),),
        "enp1s0": (ipaddress.ip_interface("192.168.0.147/24"),),
        "eth1": (ipaddress.ip_interface("10.0.0.5/16"),),
    },
)


def node_env(address: str, interface: str) -> dict[str, str]:
    return {"HCCL_IF_IP": address, "HCCL_SOCKET_IFNAME": interface, "GLOO_SOCKET_IFNAME": interface,
            "TP_SOCKET_IFNAME": interface}  # fmt: skip


def node_service(
    env: dict[str, str], *, volumes: tuple[Mount, ...] = (), command: tuple[str, ...] = (), role: str = "head"
) -> ServiceConfig:
    return ServiceConfig(name="vllm-qwen3-vl", container_name=None, image="img", devices=(), volumes=volumes,
                         command=command, environment=env, labels={"io.ascendgen.role": role},
                         shm_size=2**30)  # fmt: skip


def network_problems(service: ServiceConfig, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
    problems, _ = preflight._multinode_checks([service])
    return problems


def test_the_nodes_interface_and_address_on_this_host_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    assert network_problems(node_service(node_env("192.168.0.147", "enp1s0")), monkeypatch) == []
    # two "nodes" on one host over loopback (the e2e setup): 127.0.0.2 answers on lo's 127.0.0.0/8
    assert network_problems(node_service(node_env("127.0.0.2", "lo")), monkeypatch) == []
    # HCCL reads a prefix unless written =name; ^name excludes
    prefix = {**node_env("192.168.0.147", "enp1s0"), "HCCL_SOCKET_IFNAME": "enp", "TP_SOCKET_IFNAME": "^docker,enp1s0"}
    assert network_problems(node_service(prefix), monkeypatch) == []


def test_an_interface_this_host_does_not_have(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = network_problems(node_service(node_env("192.168.0.147", "ens3")), monkeypatch)
    assert problems == [
        "vllm-qwen3-vl: network interface 'ens3' (HCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME, TP_SOCKET_IFNAME) does not "
        "exist on this host, which has enp1s0, eth1, lo: start each node's directory on its own server, or replan "
        "with --node ADDRESS:INTERFACE as `ip -br addr` shows this server's"
    ]
    gloo_prefix = {**node_env("192.168.0.147", "enp1s0"), "GLOO_SOCKET_IFNAME": "enp"}  # Gloo takes names only
    (problem,) = network_problems(node_service(gloo_prefix), monkeypatch)
    assert "'enp' (GLOO_SOCKET_IFNAME) does not exist" in problem


def test_another_nodes_directory_started_here(monkeypatch: pytest.MonkeyPatch) -> None:
    (problem,) = network_problems(node_service(node_env("192.168.0.35", "enp1s0"), role="worker-1"), monkeypatch)
    assert problem.startswith(
        "vllm-qwen3-vl: this host has no address 192.168.0.35 (HCCL_IF_IP, the node's --node address): this is the "
        "compose file of the node 192.168.0.35; start it on that server"
    )


def test_the_address_on_another_interface_than_named(monkeypatch: pytest.MonkeyPatch) -> None:
    (problem,) = network_problems(node_service(node_env("10.0.0.5", "enp1s0")), monkeypatch)
    assert "10.0.0.5 (HCCL_IF_IP) is on eth1, not on enp1s0" in problem
    assert problem.endswith("replan every node with --node 10.0.0.5:eth1")


def test_without_address_information_only_interfaces_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    names_only = HostNetwork(interfaces=frozenset({"enp1s0"}))
    monkeypatch.setattr(preflight, "read_host_network", lambda: names_only)
    problems, _ = preflight._multinode_checks([node_service(node_env("192.168.0.35", "enp1s0"))])
    assert problems == []


def test_single_server_services_skip_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail() -> None:
        raise AssertionError("the network is read only for multi-node services")

    monkeypatch.setattr(preflight, "read_host_network", fail)
    assert preflight._multinode_checks([service()]) == ([], [])


def test_hccn_tool_and_hccn_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "hccn.conf"
    conf.write_text("address_0=29.74.153.181\nnetmask_0=255.255.0.0\naddress_1=29.74.153.182\n")
    tool = tmp_path / "hccn_tool"
    volumes = (Mount(str(tool), preflight.HCCN_TOOL, True), Mount(str(conf), preflight.HCCN_CONF, True))
    devices = tuple(Mount(f"/dev/davinci{n}", f"/dev/davinci{n}", False) for n in range(4))
    svc = dataclasses.replace(node_service(node_env("192.168.0.147", "enp1s0"), volumes=volumes), devices=devices)
    monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
    problems, warnings = preflight._multinode_checks([svc])
    assert problems == [
        f"vllm-qwen3-vl: {tool} is missing: HCCL needs hccn_tool to reach the other servers' NPUs over RoCE; it ships "
        "with the Ascend driver's full install (`ls /usr/local/Ascend/driver/tools/`)"
    ]
    assert warnings == [
        f"vllm-qwen3-vl: {conf} has no address for NPU 2, 3: HCCL cannot reach the other servers from it; `hccn_tool "
        "-i N -ip -s address A.B.C.D netmask M` for each (`hccn_tool -i N -ip -g` shows one)"
    ]
    tool.write_text("#!/bin/sh\n")
    conf.unlink()
    problems, _ = preflight._multinode_checks([svc])
    assert problems == [
        f"vllm-qwen3-vl: {conf} is missing or unreadable: the NPUs' RoCE ports have no addresses; give each NPU one "
        "with `hccn_tool -i N -ip -s address A.B.C.D netmask M` (it writes /etc/hccn.conf)"
    ]
    # the generic driver-path check leaves these two to the multi-node check, which says what they are for
    assert list(preflight._driver_problems(svc)) == []


HEAD_COMMAND = (
    "ray start --disable-usage-stats --node-ip-address=192.168.0.147 --head --port={port} && exec vllm serve "
    "/models/Qwen/Qwen3-VL-30B-A3B-Instruct --distributed-executor-backend ray --tensor-parallel-size 16 --port 8000"
)


def test_ray_head_port(monkeypatch: pytest.MonkeyPatch) -> None:
    assert preflight.ray_head_port(node_service({}, command=(HEAD_COMMAND.format(port=6380),))) == 6380
    assert preflight.ray_head_port(node_service({}, command=("ray start --head && exec vllm serve m",))) == 6379
    worker = ("start", "--block", "--address=192.168.0.147:6379", "--node-ip-address=192.168.0.35")
    assert preflight.ray_head_port(node_service({}, command=worker, role="worker-1")) is None
    assert preflight.ray_head_port(service()) is None
    with socket.socket() as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        head = node_service(node_env("192.168.0.147", "enp1s0"), command=(HEAD_COMMAND.format(port=port),))
        monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
        (problem,) = preflight._multinode_checks([head])[0]
        assert problem.startswith(
            f"vllm-qwen3-vl: port {port}, where the Ray head listens (`ray start --head --port={port}`), is already "
            "in use on this host"
        )
    assert preflight._multinode_checks([head])[0] == []


def meminfo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, available_gib: float) -> None:
    path = tmp_path / "meminfo"
    kib = int(available_gib * 2**20)
    path.write_text(f"MemTotal:       1056323436 kB\nMemFree:        1000000000 kB\nMemAvailable:   {kib} kB\n")
    monkeypatch.setattr(preflight, "PROC_MEMINFO", path)


def test_ray_wants_its_object_store_in_dev_shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(tmp_path, monkeypatch, 500)
    head = node_service(node_env("192.168.0.147", "enp1s0"))  # shm_size 1 GiB, as ascendgen writes it
    # min(30% of 500 GiB, 10 GB) = 10 GB = 9.3 GiB (ray resource_spec.py; REQUIRE_SHM_SIZE_THRESHOLD = 10**10)
    assert list(preflight._shm_warnings(head)) == [
        "vllm-qwen3-vl: /dev/shm in the container is 1.0 GiB (shm_size), less than the object store Ray sizes on this "
        "host (9.3 GiB: 30% of the 500.0 GiB of available memory, at most 10 GB): Ray keeps it in /tmp instead "
        '("This will harm performance"); set shm_size: 10g for this service in compose.override.yml'
    ]
    assert list(preflight._shm_warnings(dataclasses.replace(head, shm_size=10 * 2**30))) == []
    # not a Ray service: vLLM alone needs no such object store
    vllm = dataclasses.replace(service(), shm_size=2**30, command=("serve", "/models/Qwen/Qwen3-8B"))
    assert list(preflight._shm_warnings(vllm)) == []


def test_a_small_host_needs_less_shm_for_ray(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(tmp_path, monkeypatch, 3)  # 30% of 3 GiB = 0.9 GiB < 1 GiB of shm
    assert list(preflight._shm_warnings(node_service(node_env("127.0.0.1", "lo")))) == []
    meminfo(tmp_path, monkeypatch, 4)  # 1.2 GiB > 1 GiB
    (warning,) = preflight._shm_warnings(node_service(node_env("127.0.0.1", "lo")))
    assert "(1.2 GiB: 30% of the 4.0 GiB of available memory, at most 10 GB)" in warning
    assert "set shm_size: 2g" in warning


def test_shm_size_missing_or_above_the_hosts_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(tmp_path, monkeypatch, 2)
    vllm = dataclasses.replace(service(), command=("serve", "/models/Qwen/Qwen3-8B"))
    (unset,) = preflight._shm_warnings(dataclasses.replace(vllm, shm_size=None))
    assert unset.startswith("vllm-qwen3-8b: shm_size is not set, so Docker gives the container 64 MiB of /dev/shm")
    (too_big,) = preflight._shm_warnings(dataclasses.replace(vllm, shm_size=4 * 2**30))
    assert too_big.startswith("vllm-qwen3-8b: shm_size 4.0 GiB is more than the 2.0 GiB of memory this host has")


def test_ipc_host_uses_the_hosts_dev_shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(tmp_path, monkeypatch, 500)
    free = {str(tmp_path / "shm"): 2 * 2**30}
    monkeypatch.setattr(preflight, "DEV_SHM", tmp_path / "shm")
    monkeypatch.setattr(preflight, "_free_bytes", lambda path: free[str(path)])
    head = dataclasses.replace(node_service(node_env("127.0.0.1", "lo")), shm_size=None, ipc="host")
    (warning,) = preflight._shm_warnings(head)  # shm_size does not apply with ipc: host: not "not set"
    assert warning.startswith(f"vllm-qwen3-vl: the host's {tmp_path / 'shm'} (ipc: host) has 2.0 GiB free, less than")
    assert warning.endswith(f"free the host's {tmp_path / 'shm'}, or remount it larger (`mount -o remount,size=10G "
                            f"{tmp_path / 'shm'}`)")  # fmt: skip
    free[str(tmp_path / "shm")] = 11 * 2**30
    assert list(preflight._shm_warnings(head)) == []


# ---- the image's CANN against the host's driver -----------------------------------------------------------------


def driver_service(tmp_path: Path, version: str, image: str = "quay.io/ascend/vllm-ascend:v0.23.0") -> ServiceConfig:
    info = tmp_path / "version.info"
    info.write_text(f"Version={version}\nascendhal_version=7.35.19\n")
    volumes = (Mount(str(info), "/usr/local/Ascend/driver/version.info", True),)
    return dataclasses.replace(service(), image=image, volumes=volumes)


@pytest.fixture
def cann_data(monkeypatch: pytest.MonkeyPatch) -> None:
    """v0.23.0 holds CANN 9.1.0 (needs driver 25.2.X), v0.13.0 CANN 8.5.0 (25.0.X), v0.9.2rc1 CANN 8.1.RC1 (no
    published minimum): /work/research/images, as images.yaml records it."""
    from ascendgen import images

    cann = {"v0.23.0": "9.1.0", "v0.13.0": "8.5.0", "v0.9.2rc1": "8.1.RC1"}
    real = images.load_images()
    monkeypatch.setattr(images, "load_images", lambda *a: tuple(replace(s, cann=cann.get(s.tag)) for s in real))
    monkeypatch.setattr(images, "min_driver_for", {"9.1.0": "25.2.X", "8.5.0": "25.0.X"}.get)


def test_a_driver_too_old_for_the_image_is_refused(tmp_path: Path, cann_data: None) -> None:
    problems, warnings = preflight._driver_image_checks([driver_service(tmp_path, "25.0.rc1")])
    assert warnings == []
    assert problems == [
        "vllm-qwen3-8b: quay.io/ascend/vllm-ascend:v0.23.0 holds CANN 9.1.0, which needs Ascend driver 25.2.X or "
        f"newer; this host's driver is 25.0.rc1 ({tmp_path / 'version.info'}): upgrade the driver (Ascend HDK 25.2.X "
        "or newer), or plan with an image this driver runs (--image v0.13.0, CANN 8.5.0)"
    ]
    assert preflight._driver_image_checks([driver_service(tmp_path, "25.2.0")]) == ([], [])


def test_an_unknown_minimum_is_a_warning_and_other_images_are_left_alone(tmp_path: Path, cann_data: None) -> None:
    problems, (warning,) = preflight._driver_image_checks(
        [driver_service(tmp_path, "23.0.3", "quay.io/ascend/vllm-ascend:v0.9.2rc1")]
    )
    assert problems == [] and "holds CANN 8.1.RC1, for which no minimum Ascend driver is published" in warning
    assert preflight._driver_image_checks([driver_service(tmp_path, "23.0.3", "ascendgen-standin:test")]) == ([], [])


def test_up_refuses_an_old_driver_before_pulling(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cann_data: None
) -> None:
    host = make_fake_npu_host(tmp_path / "host", driver_version="24.1.rc3")
    hardware = write_hardware_file(tmp_path / "fake-hardware.yaml", host)
    out = tmp_path / "deploy"
    planned = run(
        "plan", "Qwen3-8B", "--server", "fake-a2", "--hardware", str(hardware), "--models-dir", str(host.models),
        "--image", "v0.23.0", "--host", "127.0.0.1", "--port", "18999", "--out", str(out),
    )  # fmt: skip
    assert planned.exit_code == 0, planned.stderr

    class Missing(FakeImages):
        def get(self, name: str) -> object:
            raise LookupError(name)  # the image is not here: up would pull 15 GB

    client = FakeDocker()
    client.images = Missing()  # type: ignore[assignment]
    monkeypatch.setattr(dockerengine, "docker_client", lambda timeout_s: client)
    pulls: list[Any] = []
    monkeypatch.setattr(runtime, "compose_pull", lambda *args: pulls.append(args))
    result = run("up", str(out))
    assert result.exit_code == 1 and pulls == []
    assert (
        "vllm-qwen3-8b: quay.io/ascend/vllm-ascend:v0.23.0 holds CANN 9.1.0, which needs Ascend driver 25.2.X or "
        f"newer; this host's driver is 24.1.rc3 ({host.driver_version_info})"
    ) in result.stderr
    assert "error: preflight found 1 problem(s); nothing was started" in result.stderr


def test_a_service_without_an_engine_needs_no_shm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(tmp_path, monkeypatch, 2)
    cpu_server = dataclasses.replace(service(), shm_size=None, command=("--disable-worker",))  # GPUStack, CPU only
    assert list(preflight._shm_warnings(cpu_server)) == []
    vllm = dataclasses.replace(service(), shm_size=None, command=("serve", "/models/Qwen/Qwen3-8B"))
    assert len(list(preflight._shm_warnings(vllm))) == 1


# ---- every single-server check of run_preflight on its own, engine-free: the fake Docker client above, files under
# tmp_path, /dev/null standing in for an NPU's character device ----------------------------------------------------

DRIVER = "/usr/local/Ascend/driver"
IMAGE = "quay.io/ascend/vllm-ascend:v0.9.2rc1"


def host_service(
    name: str,
    npus: tuple[int, ...] = (),
    *,
    volumes: tuple[Mount, ...] = (),
    labels: dict[str, str] | None = None,
    command: tuple[str, ...] = (),
    devices: tuple[Mount, ...] | None = None,
) -> ServiceConfig:
    """A service with /dev/null (a character device every host has) mapped at /dev/davinciN for each NPU."""
    if devices is None:
        devices = tuple(Mount("/dev/null", f"/dev/davinci{i}", False) for i in npus)
    return ServiceConfig(name=name, container_name=name, image=IMAGE, devices=devices, volumes=volumes,
                         command=command, environment={}, labels=labels or {}, shm_size=2**30)  # fmt: skip


def problems_of(*services: ServiceConfig, client: Any = None, project: str = "p") -> list[str]:
    return run_preflight(ComposeConfig(project, services), list(services), client).problems


@pytest.fixture
def compose_present(monkeypatch: pytest.MonkeyPatch) -> None:
    """Compose v2 present, and no npu-smi on PATH (a test that wants one puts it there)."""
    monkeypatch.setattr(preflight, "compose_available", lambda: "2.40.3")
    monkeypatch.setenv("PATH", "/usr/bin:/bin")


with_compose = pytest.mark.usefixtures("compose_present")


@with_compose
def test_a_healthy_service_has_no_problem() -> None:
    assert problems_of(host_service("a", (0, 1)), host_service("b", (2, 3))) == []


@with_compose
def test_an_npu_given_to_two_services_is_named_once_per_clash() -> None:
    problems = problems_of(host_service("a", (0, 1)), host_service("b", (1, 2)), host_service("c", (2,)))
    assert problems == [
        "NPU 1 is given to both a and b: each NPU serves one instance",
        "NPU 2 is given to both b and c: each NPU serves one instance",
    ]


@with_compose
def test_a_missing_read_only_driver_path_is_named(tmp_path: Path) -> None:
    there = tmp_path / "dcmi"
    there.mkdir()
    volumes = (
        Mount(str(tmp_path / "no-driver"), DRIVER, True),  # missing, read-only: the driver
        Mount(str(there), "/usr/local/dcmi", True),  # present
        Mount(str(tmp_path / "no-cache"), "/root/.cache", False),  # missing, writable: compose creates it
        Mount(str(tmp_path / "no-models"), "/models", True),  # the model check's business, not the driver's
    )
    assert problems_of(host_service("a", (0,), volumes=volumes)) == [
        f"a: driver path {tmp_path / 'no-driver'} is missing on this host (is the Ascend driver installed? see "
        "`cat /usr/local/Ascend/driver/version.info`)"
    ]
    # a gateway mounts no driver: its read-only config is checked against its plan instead
    gateway = host_service("gw", volumes=volumes[:1], labels={"io.ascendgen.role": "gateway"})
    assert list(preflight._driver_problems(gateway)) == []


@with_compose
def test_devices_that_are_missing_or_not_character_devices(tmp_path: Path) -> None:
    dev = tmp_path / "dev"  # a host root elsewhere (a server profile's host_root)
    dev.mkdir()
    plain = dev / "davinci3"
    plain.write_text("")
    manager = dev / "davinci_manager"
    manager.write_text("")
    devices = (
        Mount(str(dev / "hisi_hdc"), "/dev/hisi_hdc", False),
        Mount(str(manager), "/dev/davinci_manager", False),
        Mount("/dev/null", "/dev/davinci0", False),
        Mount(str(dev / "davinci7"), "/dev/davinci7", False),
        Mount(str(plain), "/dev/davinci3", False),
    )
    assert problems_of(host_service("a", devices=devices)) == [
        f"a: device {dev / 'hisi_hdc'} does not exist on this host (is the Ascend driver installed and loaded?)",
        f"a: {manager} is not a character device (is the Ascend driver installed and loaded?)",
        f"a: device {dev / 'davinci7'} does not exist on this host (check `ls /dev/davinci*` and plan with --npus "
        "on NPUs that exist)",
        f"a: {plain} is not a character device (check `ls /dev/davinci*` and plan with --npus on NPUs that exist)",
    ]


@with_compose
def test_a_port_in_use_is_named_unless_the_service_already_runs_there() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("0.0.0.0", 0))
        held.listen()
        port = held.getsockname()[1]
        busy = host_service("a", (0,), labels={"io.ascendgen.port": str(port)})
        assert problems_of(busy) == [f"a: port {port} is already in use on this host (plan with another --port)"]
        # the port of a service whose own container runs is its own: not a problem
        ours = FakeContainer("a", compose_labels("p", "a", "/srv/p"), attrs={"State": {"Status": "running"}})
        assert problems_of(busy, client=FakeDocker(ours)) == []
        stopped = FakeContainer("a", compose_labels("p", "a", "/srv/p"), attrs={"State": {"Status": "exited"}})
        assert problems_of(busy, client=FakeDocker(stopped)) == [
            f"a: port {port} is already in use on this host (plan with another --port)"
        ]
    assert problems_of(busy) == []  # released
    assert preflight.port_in_use(port) is False


@with_compose
def test_a_port_held_on_loopback_only_is_in_use_too() -> None:
    # vLLM binds 0.0.0.0 (or the --host given): a port some process holds on 127.0.0.1 stops it just the same
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        assert preflight.port_in_use(held.getsockname()[1]) is True


QWEN3_8B = {"num_attention_heads": 32, "num_key_value_heads": 8, "num_hidden_layers": 36}
MODEL_CONFIG = "num_attention_heads=32,num_key_value_heads=8,num_hidden_layers=36"


def model_service(models: Path, config: dict[str, Any] | str | None, *, nested: bool = False) -> ServiceConfig:
    """Qwen3-8B served from `models` (mounted at /models), its config.json written unless `config` is None."""
    folder = models / "Qwen" / "Qwen3-8B"
    if config is not None:
        folder.mkdir(parents=True, exist_ok=True)
        text = config if isinstance(config, str) else json.dumps({"text_config": config} if nested else config)
        (folder / "config.json").write_text(text)
    labels = {"io.ascendgen.model": "Qwen3-8B", "io.ascendgen.model-config": MODEL_CONFIG}
    return host_service("a", (0,), volumes=(Mount(str(models), "/models", True),), labels=labels,
                        command=("serve", "/models/Qwen/Qwen3-8B", "--port", "8000"))  # fmt: skip


@with_compose
def test_the_model_folder_holds_the_planned_model(tmp_path: Path) -> None:
    assert problems_of(model_service(tmp_path / "m1", QWEN3_8B)) == []
    assert problems_of(model_service(tmp_path / "m2", QWEN3_8B, nested=True)) == []  # a VL model's text_config


@with_compose
def test_a_config_json_that_disagrees_with_the_plan_is_named(tmp_path: Path) -> None:
    other = {**QWEN3_8B, "num_key_value_heads": 4, "num_hidden_layers": 48}
    config = tmp_path / "m" / "Qwen" / "Qwen3-8B" / "config.json"
    assert problems_of(model_service(tmp_path / "m", other)) == [
        f"a: {config} says num_key_value_heads 4, but the plan for Qwen3-8B expects 8: that folder holds another "
        "model, or the catalog entry is wrong",
        f"a: {config} says num_hidden_layers 48, but the plan for Qwen3-8B expects 36: that folder holds another "
        "model, or the catalog entry is wrong",
    ]
    (missing,) = problems_of(model_service(tmp_path / "n", {"num_attention_heads": 32, "num_key_value_heads": 8}))
    assert "says num_hidden_layers None, but the plan for Qwen3-8B expects 36" in missing


@with_compose
def test_a_model_folder_that_is_missing_unmounted_or_not_a_model(tmp_path: Path) -> None:
    folder = tmp_path / "m" / "Qwen" / "Qwen3-8B"
    assert problems_of(model_service(tmp_path / "m", None)) == [
        f"a: model directory {folder} does not exist (download the model there, or fix --models-dir)"
    ]
    folder.mkdir(parents=True)
    assert problems_of(model_service(tmp_path / "m", None)) == [
        f"a: {folder / 'config.json'} is missing: {folder} does not hold a Hugging Face model"
    ]
    (problem,) = problems_of(model_service(tmp_path / "m", "{not json"))
    assert problem.startswith(f"a: {folder / 'config.json'} is not valid JSON (")
    unmounted = dataclasses.replace(model_service(tmp_path / "m", None), volumes=())
    assert problems_of(unmounted) == ["a: the model path /models/Qwen/Qwen3-8B is not inside any mounted directory"]
    # a hub id instead of a path: vLLM downloads it, nothing to look at here
    hub = dataclasses.replace(unmounted, command=("serve", "Qwen/Qwen3-8B"))
    assert problems_of(hub) == []


@with_compose
@pytest.mark.parametrize("nested", ["text_config", "llm_config", "language_config"])
def test_a_multimodal_config_is_checked_by_its_language_model(tmp_path: Path, nested: str) -> None:
    folder = tmp_path / "m" / "Qwen" / "Qwen3-8B"
    folder.mkdir(parents=True)
    wrong = {**QWEN3_8B, "num_hidden_layers": 48}
    (folder / "config.json").write_text(json.dumps({"vision_config": {"num_attention_heads": 16}, nested: wrong}))
    (problem,) = problems_of(model_service(tmp_path / "m", None))
    assert "says num_hidden_layers 48, but the plan for Qwen3-8B expects 36" in problem
    # the nested config wins over numbers at the top level, as vLLM reads it (get_hf_text_config) and as the plan
    # read the folder (modeldir)
    (folder / "config.json").write_text(json.dumps({**QWEN3_8B, nested: wrong}))
    (problem,) = problems_of(model_service(tmp_path / "m", None))
    assert "says num_hidden_layers 48, but the plan for Qwen3-8B expects 36" in problem
    (folder / "config.json").write_text(json.dumps({**wrong, nested: QWEN3_8B}))
    assert problems_of(model_service(tmp_path / "m", None)) == []
    # what the nested config lacks is read at the top level; what neither has is missing
    (folder / "config.json").write_text(json.dumps({"num_attention_heads": 32, nested: {"num_hidden_layers": 36}}))
    assert problems_of(model_service(tmp_path / "m", None)) == [
        f"a: {folder / 'config.json'} says num_key_value_heads 32, but the plan for Qwen3-8B expects 8: that "
        "folder holds another model, or the catalog entry is wrong",
    ]


@with_compose
def test_only_well_formed_parts_of_the_model_label_are_checked(tmp_path: Path) -> None:
    service = model_service(tmp_path / "m", {**QWEN3_8B, "num_hidden_layers": 48})
    odd = "num_attention_heads=32,junk=1=2,=5,num_hidden_layers=x"
    assert problems_of(dataclasses.replace(service, labels={**service.labels, "io.ascendgen.model-config": odd})) == []
    unlabelled = {k: v for k, v in service.labels.items() if k != "io.ascendgen.model-config"}
    assert problems_of(dataclasses.replace(service, labels=unlabelled)) == []


def held(service: ServiceConfig, client: FakeDocker) -> list[str]:
    return [p for p in problems_of(service, client=client) if "is held by" in p]


def on_host_npus(*npus: int) -> ServiceConfig:
    """A service mapping the host's /dev/davinciN (which this machine may not have: only the holders are looked at)."""
    return host_service("a", devices=tuple(Mount(f"/dev/davinci{i}", f"/dev/davinci{i}", False) for i in npus))


@with_compose
def test_our_own_containers_do_not_hide_another_projects_npus() -> None:
    def holder(name: str, project: str, npu: int) -> FakeContainer:
        devices = [{"PathOnHost": f"/dev/davinci{npu}"}, {"PathInContainer": "/dev/x"}]
        return FakeContainer(name, {"com.docker.compose.project": project}, attrs={"HostConfig": {"Devices": devices}})

    client = FakeDocker(holder("ours", "p", 0), FakeContainer("no-devices"), holder("other-vllm", "q", 1),
                        holder("idle", "q", 5))  # fmt: skip
    assert held(on_host_npus(0, 1), client) == [
        "a: NPU 1 is held by running container 'other-vllm' of compose project 'q' (stop it: `docker compose -p q "
        "down`, or plan on free NPUs with --npus)"
    ]
    # only running containers hold NPUs; a service without NPUs asks nothing of them
    stopped = FakeContainer("other-vllm", {}, status="exited", attrs=holder("x", "q", 1).attrs)
    assert held(on_host_npus(0, 1), FakeDocker(stopped)) == []
    assert held(host_service("a", (0, 1)), client) == []  # /dev/null at /dev/davinciN: no host NPU named


@with_compose
def test_the_ascend_docker_runtime_lists_npus_only_under_its_own_runtime() -> None:
    def runtime_container(runtime_name: str, env: list[str]) -> FakeContainer:
        attrs = {"HostConfig": {"Runtime": runtime_name, "Devices": []}, "Config": {"Env": env}}
        return FakeContainer("w", {}, attrs=attrs)

    listed = ["PATH=/bin", "ASCEND_VISIBLE_DEVICES=1, 3,x", "OTHER=0"]
    (problem,) = held(on_host_npus(3), FakeDocker(runtime_container("ascend", listed)))
    assert problem.startswith("a: NPU 3 is held by running container 'w' started without compose")
    assert held(on_host_npus(3), FakeDocker(runtime_container("runc", listed))) == []
    not_ours = ["ASCEND_VISIBLE_DEVICES_X=3", "X_ASCEND_VISIBLE_DEVICES=3"]
    assert held(on_host_npus(3), FakeDocker(runtime_container("ascend", not_ours))) == []


def fake_npu_smi(path: Path, exit_code: int = 0) -> Path:
    """An npu-smi that prints the A2 table for `info`: NPU 0 is used by process 124528 (python3.8), NPU 1 is free."""
    from test_npusmi import NPU_SMI_A2

    path.parent.mkdir(parents=True, exist_ok=True)
    table = path.parent / "table.txt"
    table.write_text(NPU_SMI_A2)
    path.write_text(f'#!/bin/sh\n[ "$1" = info ] && cat {table}\nexit {exit_code}\n')
    path.chmod(0o755)
    return path


@with_compose
def test_npus_in_use_per_npu_smi_on_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_npu_smi(tmp_path / "bin" / "npu-smi")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    assert problems_of(host_service("a", (0, 1)), host_service("b", (2,))) == [
        "a: NPU 0 is in use by process 124528 (python3.8) per npu-smi (stop it, or plan on free NPUs with --npus)"
    ]


@with_compose
def test_npu_smi_is_found_where_the_service_mounts_it_and_a_failing_one_adds_nothing(tmp_path: Path) -> None:
    # not on PATH: the host path the service bind-mounts at /usr/local/bin/npu-smi (a server's host_root)
    npu_smi = fake_npu_smi(tmp_path / "host" / "npu-smi")
    mounted = host_service("a", (0,), volumes=(Mount(str(npu_smi), "/usr/local/bin/npu-smi", True),))
    assert problems_of(mounted) == [
        "a: NPU 0 is in use by process 124528 (python3.8) per npu-smi (stop it, or plan on free NPUs with --npus)"
    ]
    # one that fails (doctor reports it) adds nothing here
    failing = fake_npu_smi(tmp_path / "broken" / "npu-smi", exit_code=3)
    assert (
        problems_of(dataclasses.replace(mounted, volumes=(Mount(str(failing), "/usr/local/bin/npu-smi", True),))) == []
    )


@with_compose
def test_compose_v2_missing_is_a_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "compose_available", lambda: None)
    assert problems_of(host_service("a", (0,))) == [
        "Docker Compose v2 is missing: install the compose plugin (`docker compose version`)"
    ]


class SomeImages(FakeImages):
    """Only the images named in `present` are here; the SDK raises docker.errors.ImageNotFound for the others."""

    def __init__(self, *present: str) -> None:
        self.present = set(present)
        self.asked: list[str] = []

    def get(self, name: str) -> object:
        self.asked.append(name)
        if name not in self.present:
            raise LookupError(name)
        return object()


@with_compose
def test_images_to_pull_and_the_disk_space_they_need(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeDocker()
    client.images = SomeImages()  # type: ignore[assignment]
    monkeypatch.setattr(client, "info", lambda: {"DockerRootDir": "/data/docker"})
    asked: list[str] = []

    def usage(path: str) -> Any:
        asked.append(path)
        return type("Usage", (), {"free": 20 * 1024**3})

    monkeypatch.setattr(preflight.shutil, "disk_usage", usage)
    a, b = host_service("a", (0,)), host_service("b", (1,))
    report = run_preflight(ComposeConfig("p", (a, b)), [a, b], client)
    assert report.images_to_pull == [IMAGE] and client.images.asked == [IMAGE]  # one image, looked up once
    assert report.problems == [] and asked == ["/data/docker"]  # about 16 GiB to pull, 20 GiB free
    b = dataclasses.replace(b, image="quay.io/ascend/vllm-ascend:v0.11.0rc3")
    report = run_preflight(ComposeConfig("p", (a, b)), [a, b], client)
    assert report.images_to_pull == ["quay.io/ascend/vllm-ascend:v0.11.0rc3", IMAGE]  # sorted
    assert report.problems == [
        "only 20.0 GiB free under /data/docker; pulling quay.io/ascend/vllm-ascend:v0.11.0rc3, "
        "quay.io/ascend/vllm-ascend:v0.9.2rc1 needs about 32 GiB (free space, or `docker image prune`)"
    ]


@with_compose
@pytest.mark.parametrize(("free_gib", "problem"), [(16.0, False), (15.9, True)])
def test_the_disk_is_checked_under_dockers_default_root(
    monkeypatch: pytest.MonkeyPatch, free_gib: float, problem: bool
) -> None:
    client = FakeDocker()
    client.images = SomeImages("present:1")  # type: ignore[assignment]
    asked: list[str] = []

    def usage(path: str) -> Any:
        asked.append(path)
        return type("Usage", (), {"free": free_gib * 1024**3})

    monkeypatch.setattr(preflight.shutil, "disk_usage", usage)
    a = dataclasses.replace(host_service("a", (0,)), image="present:1")
    assert run_preflight(ComposeConfig("p", (a,)), [a], client).images_to_pull == [] and asked == []
    report = run_preflight(ComposeConfig("p", (a, host_service("b", (1,)))), [host_service("b", (1,))], client)
    assert report.images_to_pull == [IMAGE]
    assert asked == ["/var/lib/docker"]  # info() gave no DockerRootDir: Docker's default
    assert report.problems == (
        [f"only {free_gib:.1f} GiB free under /var/lib/docker; pulling {IMAGE} needs about 16 GiB (free space, or "
         "`docker image prune`)"] if problem else []
    )  # fmt: skip


@with_compose
def test_a_disk_that_cannot_be_measured_is_no_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    client = FakeDocker()
    client.images = SomeImages()  # type: ignore[assignment]

    def unreadable(path: str) -> Any:
        raise PermissionError(path)

    monkeypatch.setattr(preflight.shutil, "disk_usage", unreadable)
    a = host_service("a", (0,))
    report = run_preflight(ComposeConfig("p", (a,)), [a], client)
    assert report.images_to_pull == [IMAGE] and report.problems == []


def test_a_same_named_project_elsewhere_holding_one_of_our_services_under_another_name() -> None:
    # compose finds containers by project and service labels: `up` would take this one over, whatever its name
    unrelated = FakeContainer("web", compose_labels("z", "web", "/srv/z"))
    ours = FakeContainer("vllm-qwen3-8b-old", compose_labels("b", "vllm-qwen3-8b", "/srv/b"))
    other = FakeContainer("qwen-old", compose_labels("b", "vllm-qwen3-8b", "/elsewhere/b"), status="exited")
    another_service = FakeContainer("x", compose_labels("b", "other-service", "/elsewhere/b"))
    assert name_problems(FakeDocker(unrelated, ours, other, another_service)) == [
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


def test_our_project_without_a_recorded_directory_is_ours() -> None:
    # a container of our project that compose recorded no directory for, or a check without our directory
    no_dir = FakeContainer("vllm-qwen3-8b", {"com.docker.compose.project": "b"})
    assert name_problems(FakeDocker(no_dir)) == []
    elsewhere = FakeContainer("vllm-qwen3-8b", compose_labels("b", "vllm-qwen3-8b", "/elsewhere/b"))
    report = run_preflight(ComposeConfig("b", (service(),)), [service()], FakeDocker(elsewhere), project_dir=None)
    assert [p for p in report.problems if "container name" in p] == []


# ---- what the mutation run of preflight.py left (scripts/mutation.sh preflight) -------------------------------------


def test_warnings_of_every_kind_are_kept_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cann_data: None, compose_present: None
) -> None:
    # one node service (a Ray head): its image's CANN has no published minimum driver, its hccn.conf gives NPU 0 no
    # address, and it sets no shm_size, so Docker's 64 MiB are also too little for Ray's object store: four warnings
    # from three checks, each adding to the others'
    monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
    meminfo(tmp_path, monkeypatch, 500)
    info = tmp_path / "version.info"
    info.write_text("Version=23.0.3\n")
    conf = tmp_path / "hccn.conf"
    conf.write_text("netmask_0=255.255.0.0\n")
    volumes = (Mount(str(info), "/usr/local/Ascend/driver/version.info", True),
               Mount(str(conf), preflight.HCCN_CONF, True))  # fmt: skip
    node = dataclasses.replace(
        node_service(node_env("192.168.0.147", "enp1s0"), volumes=volumes, command=("serve", "m")),
        image="quay.io/ascend/vllm-ascend:v0.9.2rc1", shm_size=None,
        devices=(Mount("/dev/null", "/dev/davinci0", False),),
    )  # fmt: skip
    warnings = run_preflight(ComposeConfig("p", (node,)), [node], None).warnings
    kinds = ["holds CANN 8.1.RC1, for which no minimum", f"{conf} has no address for NPU 0", "shm_size is not set",
             "/dev/shm in the container is 64 MiB"]  # fmt: skip
    assert len(warnings) == len(kinds) and all(kind in w for kind, w in zip(kinds, warnings, strict=True)), warnings


def test_names_held_by_several_containers_are_each_named() -> None:
    class Bare:  # a container object without a status (the SDK's always has one): "present"
        def __init__(self) -> None:
            self.name = "vllm-b"
            self.labels = {"com.docker.compose.project": "q"}

    a, b = service("vllm-a", "vllm-a"), service("vllm-b", "vllm-b")
    client = FakeDocker(FakeContainer("vllm-a", status="exited"))
    client.containers._containers.append(Bare())  # type: ignore[arg-type]
    report = run_preflight(ComposeConfig("p", (a, b)), [a, b], client, project_dir=Path("/srv/p"))
    assert [p for p in report.problems if "container name" in p] == [
        "vllm-a: the container name 'vllm-a' is taken by a container compose did not start (exited): remove it "
        "(`docker rm -f vllm-a`), or give this one another container_name in compose.override.yml",
        "vllm-b: the container name 'vllm-b' belongs to compose project 'q', present: stop it there (`docker compose "
        "-p q down`), or give this one another container_name in compose.override.yml",
    ]


def test_hccn_mounts_do_not_stop_the_driver_check(tmp_path: Path) -> None:
    volumes = (Mount(str(tmp_path / "hccn.conf"), preflight.HCCN_CONF, True),
               Mount(str(tmp_path / "no-driver"), DRIVER, True))  # fmt: skip
    assert list(preflight._driver_problems(host_service("a", volumes=volumes))) == [
        f"a: driver path {tmp_path / 'no-driver'} is missing on this host (is the Ascend driver installed? see "
        "`cat /usr/local/Ascend/driver/version.info`)"
    ]


@with_compose
def test_a_gateways_config_is_checked_against_its_plan(tmp_path: Path) -> None:
    from ascendgen.gateway import CONFIG_IN_CONTAINER, CONFIG_LABEL, ROLE

    missing = tmp_path / "litellm-config.yaml"
    labels = {"io.ascendgen.role": ROLE, CONFIG_LABEL: "sha256:" + "0" * 64}
    gateway = host_service("gw", volumes=(Mount(str(missing), CONFIG_IN_CONTAINER, True),), labels=labels)
    assert problems_of(gateway) == [f"gw: {missing} is missing: rerun the plan command in compose.yml's header"]


@with_compose
def test_our_own_containers_whatever_directory_is_known() -> None:
    # a container of our project holds our NPU: compose recreates it, whether or not it or we know the directory
    def ours(labels: dict[str, str]) -> FakeContainer:
        return FakeContainer("x", labels, attrs={"HostConfig": {"Devices": [{"PathOnHost": "/dev/davinci0"}]}})

    svc = on_host_npus(0)
    for labels, project_dir in (({"com.docker.compose.project": "p"}, Path("/srv/p")),
                                (compose_labels("p", "x", "/srv/p"), None)):  # fmt: skip
        report = run_preflight(ComposeConfig("p", (svc,)), [svc], FakeDocker(ours(labels)), project_dir=project_dir)
        assert [p for p in report.problems if "is held by" in p] == []


@with_compose
def test_the_ascend_runtime_adds_its_listed_npus_to_the_mapped_ones() -> None:
    attrs = {"HostConfig": {"Runtime": "ascend", "Devices": [{"PathOnHost": "/dev/davinci0"}]},
             "Config": {"Env": ["ASCEND_VISIBLE_DEVICES=1"]}}  # fmt: skip
    problems = held(on_host_npus(0, 1), FakeDocker(FakeContainer("w", {}, attrs=attrs)))
    assert [p.split(" is held")[0] for p in problems] == ["a: NPU 0", "a: NPU 1"]


def test_each_image_is_held_against_the_driver_once(tmp_path: Path, cann_data: None) -> None:
    def on(directory: str, version: str | None, image: str, name: str) -> ServiceConfig:
        (tmp_path / directory).mkdir()
        info = tmp_path / directory / "version.info"
        if version is not None:
            info.write_text(f"Version={version}\n")
        volumes = (Mount(str(info), "/usr/local/Ascend/driver/version.info", True),)
        return dataclasses.replace(service(name, name), image=image, volumes=volumes)

    new, old = "quay.io/ascend/vllm-ascend:v0.23.0", "quay.io/ascend/vllm-ascend:v0.13.0"
    services = [
        on("unknown", None, "quay.io/ascend/vllm-ascend:v0.9.2rc1", "s0"),  # no version.info: nothing to check
        on("fine", "25.0.rc1", old, "s1"),  # CANN 8.5.0 runs on 25.0.X
        on("later", "24.1.rc3", old, "s2"),  # too old for 8.5.0, but an image seen already is not checked again
        on("too-old", "25.0.rc1", new, "s3"),  # CANN 9.1.0 needs 25.2.X
        on("again", "25.0.rc1", new, "s4"),  # the same image: told once
    ]
    problems, warnings = preflight._driver_image_checks(services)
    assert warnings == [] and [p.split(":")[0] for p in problems] == ["s3"]


def test_a_node_named_by_its_interfaces_alone_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    no_address = {k: v for k, v in node_env("192.168.0.147", "ens9").items() if k != "HCCL_IF_IP"}
    (problem,) = network_problems(node_service(no_address), monkeypatch)
    assert problem.startswith("vllm-qwen3-vl: network interface 'ens9' (HCCL_SOCKET_IFNAME, GLOO_SOCKET_IFNAME, ")
    # HCCL_IF_IP alone: a node too, with no interface to look for
    assert network_problems(node_service({"HCCL_IF_IP": "192.168.0.147"}), monkeypatch) == []
    (other,) = network_problems(node_service({"HCCL_IF_IP": "192.168.0.35"}), monkeypatch)
    assert other == (
        "vllm-qwen3-vl: this host has no address 192.168.0.35 (HCCL_IF_IP, the node's --node address): this is the "
        "compose file of the node 192.168.0.35; start it on that server (copy the directory there and run "
        "`ascendgen up` there), or replan with this server's address"
    )


@pytest.mark.parametrize(
    ("value", "missing"),
    [("=enp1s0", None), ("=enp", "enp"), ("enp", None), ("enp1s0,eth1", None), ("eth1, ^docker", None),
     ("enp1s0,ens9", "ens9")],
)  # fmt: skip
def test_interface_lists_exact_names_and_prefixes(monkeypatch: pytest.MonkeyPatch, value: str, missing: str) -> None:
    # HCCL_SOCKET_IFNAME as HCCL reads it: a comma list of prefixes, or exact names after a leading '='
    env = {**node_env("192.168.0.147", "enp1s0"), "HCCL_SOCKET_IFNAME": value}
    problems = network_problems(node_service(env), monkeypatch)
    assert [p.split("'")[1] for p in problems] == ([missing] if missing else [])


def test_a_host_without_interfaces_says_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "read_host_network", lambda: HostNetwork(interfaces=frozenset()))
    (problem,) = preflight._multinode_checks([node_service(node_env("192.168.0.147", "enp1s0"))])[0]
    assert "does not exist on this host, which has none: start each node's directory" in problem


def test_the_address_on_other_interfaces_than_all_those_named(monkeypatch: pytest.MonkeyPatch) -> None:
    twice = HostNetwork(
        interfaces=frozenset({"lo", "enp1s0", "eth1", "eth2"}),
        addresses={"lo": (ipaddress.ip_interface("127.0.0.1/8"),), "eth1": (ipaddress.ip_interface("10.0.0.5/16"),),
                   "eth2": (ipaddress.ip_interface("10.0.0.5/24"),)},
    )  # fmt: skip
    monkeypatch.setattr(preflight, "read_host_network", lambda: twice)
    env = {**node_env("10.0.0.5", "enp1s0"), "GLOO_SOCKET_IFNAME": "lo"}
    assert preflight._multinode_checks([node_service(env)])[0] == [
        "vllm-qwen3-vl: 10.0.0.5 (HCCL_IF_IP) is on eth1, eth2, not on enp1s0, lo: HCCL, Gloo and Ray would talk over "
        "different networks; replan every node with --node 10.0.0.5:eth1"
    ]


def test_hccn_checks_go_on_past_an_unreadable_conf_and_read_any_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
    conf, tool = tmp_path / "hccn.conf", tmp_path / "hccn_tool"
    volumes = (Mount(str(conf), preflight.HCCN_CONF, True), Mount(str(tool), preflight.HCCN_TOOL, True))
    node = dataclasses.replace(node_service(node_env("192.168.0.147", "enp1s0"), volumes=volumes),
                               devices=(Mount("/dev/davinci0", "/dev/davinci0", False),))  # fmt: skip
    problems, _ = preflight._multinode_checks([node])
    assert [p.split(" is missing")[0] for p in problems] == [f"vllm-qwen3-vl: {conf}", f"vllm-qwen3-vl: {tool}"]
    conf.write_bytes(b"# \xff\xfe not UTF-8\naddress_0=29.74.153.181\n")  # a stray byte does not hide the address
    tool.write_text("")
    assert preflight._multinode_checks([node]) == ([], [])


def test_two_nodes_keep_each_others_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
    conf = tmp_path / "hccn.conf"
    conf.write_text("")
    node = node_service(node_env("192.168.0.147", "enp1s0"), volumes=(Mount(str(conf), preflight.HCCN_CONF, True),))
    nodes = [dataclasses.replace(node, name=name, devices=(Mount("/dev/x", "/dev/davinci0", False),)) for name in "ab"]
    _, warnings = preflight._multinode_checks(nodes)
    assert [w.split(":")[0] for w in warnings] == ["a", "b"]


def test_the_ray_port_problem_exactly_and_a_command_in_words(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(preflight, "read_host_network", lambda: LO_AND_ENP)
    with socket.socket() as held_port:
        held_port.bind(("0.0.0.0", 0))
        held_port.listen()
        port = held_port.getsockname()[1]
        words = ("ray", "start", "--head", f"--port={port}")  # compose's list form: the words joined by spaces
        assert preflight.ray_head_port(node_service({}, command=words)) == port
        head = node_service(node_env("192.168.0.147", "enp1s0"), command=(HEAD_COMMAND.format(port=port),))
        assert preflight._multinode_checks([head])[0] == [
            f"vllm-qwen3-vl: port {port}, where the Ray head listens (`ray start --head --port={port}`), is already "
            "in use on this host: another Ray head runs here (`ray stop`, or `docker ps` for a container running Ray; "
            "`ss -ltnp` names the process)"
        ]


@pytest.mark.parametrize(
    ("command", "role", "ray"),
    [
        (("start", "--block", "--address=10.0.0.1:6379"), None, True),  # a worker, even unlabelled
        (("start", "--block"), None, False),
        (("serve", "m", "--address=x"), None, False),
        (("--address=x", "start"), None, False),
        (("serve", "m"), "worker-1", True),  # ascendgen's label says so
        (("ray start --head && exec vllm serve m",), None, True),
        (("serve", "m"), None, False),
    ],
)
def test_starts_ray(command: tuple[str, ...], role: str | None, ray: bool) -> None:
    labels = {"io.ascendgen.role": role} if role else {}
    assert preflight.starts_ray(dataclasses.replace(service(), command=command, labels=labels)) is ray


def test_shm_messages_exactly_and_their_edges(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    meminfo(tmp_path, monkeypatch, 4)
    vllm = dataclasses.replace(service(), command=("serve", "/models/Qwen/Qwen3-8B"))
    assert list(preflight._shm_warnings(dataclasses.replace(vllm, shm_size=None))) == [
        "vllm-qwen3-8b: shm_size is not set, so Docker gives the container 64 MiB of /dev/shm, too little for vLLM's "
        "workers (torch shares tensors through it): set shm_size: 1g (as ascendgen writes it) in compose.override.yml"
    ]
    assert list(preflight._shm_warnings(dataclasses.replace(vllm, shm_size=5 * 2**30))) == [
        "vllm-qwen3-8b: shm_size 5.0 GiB is more than the 4.0 GiB of memory this host has available: what is written "
        "to /dev/shm takes host memory"
    ]
    assert list(preflight._shm_warnings(dataclasses.replace(vllm, shm_size=4 * 2**30))) == []  # all of it: allowed
    # Ray's object store: 30% of 500 GiB is above the 10 GB cap, so 10**10 bytes of /dev/shm are enough
    meminfo(tmp_path, monkeypatch, 500)
    head = node_service(node_env("127.0.0.1", "lo"))
    assert list(preflight._shm_warnings(dataclasses.replace(head, shm_size=10**10))) == []
    assert len(list(preflight._shm_warnings(dataclasses.replace(head, shm_size=10**10 - 1)))) == 1


def test_shm_without_memory_figures_is_not_judged(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    head = node_service(node_env("127.0.0.1", "lo"))
    monkeypatch.setattr(preflight, "PROC_MEMINFO", tmp_path / "no-meminfo")
    assert list(preflight._shm_warnings(head)) == []
    meminfo_path = tmp_path / "meminfo"
    meminfo_path.write_bytes(b"MemTotal: 1 kB\nName: \xff\n")  # no MemAvailable (an old kernel), a stray byte
    monkeypatch.setattr(preflight, "PROC_MEMINFO", meminfo_path)
    assert preflight._available_memory() is None and list(preflight._shm_warnings(head)) == []
    meminfo_path.write_bytes(b"Name: \xff\nMemAvailable:   2048 kB\n")
    assert preflight._available_memory() == 2048 * 1024
    # ipc: host with a /dev/shm that cannot be measured
    monkeypatch.setattr(preflight, "DEV_SHM", tmp_path / "no-shm")
    assert list(preflight._shm_warnings(dataclasses.replace(head, shm_size=None, ipc="host"))) == []


def test_free_bytes_of_a_filesystem(tmp_path: Path) -> None:
    import os

    stats = os.statvfs(tmp_path)
    assert preflight._free_bytes(tmp_path) == stats.f_bavail * stats.f_frsize
    assert preflight._free_bytes(tmp_path / "missing") is None
