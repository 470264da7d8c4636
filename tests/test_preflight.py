"""Preflight without an engine: reading npu-smi's process table (format from DESIGN.md 4b, A2 servers), and
container names held by other deployments, seen through a fake Docker client passed in as `up` passes the
real one."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
from dataclasses import dataclass, field
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
    monkeypatch.setattr(
        images, "load_images", lambda *a: tuple(s.model_copy(update={"cann": cann.get(s.tag)}) for s in real)
    )
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
