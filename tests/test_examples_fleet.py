"""The seeds' multi-instance and multi-node layouts, regenerated in examples/, compared with the seeds'
own files and command lines (tests/seed_compose/)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_examples import read_only_but_the_cache

from helpers import REPO

EXAMPLES = REPO / "examples"
SEEDS = Path(__file__).parent / "seed_compose"
HEAD, WORKER = "192.168.0.147", "192.168.0.35"  # seed 003's two nodes


def flags(words: list[str]) -> dict[str, str | None]:
    """`--flag value` / `--flag` pairs; vLLM treats `--a_b` as `--a-b`."""
    parsed: dict[str, str | None] = {}
    i = 0
    while i < len(words):
        name = "--" + words[i].removeprefix("--").replace("_", "-")
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            parsed[name], i = words[i + 1], i + 2
        else:
            parsed[name], i = None, i + 1
    return parsed


def services(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())["services"]  # type: ignore[no-any-return]


# ------------------------------------------------------------------------------------- seed 001: two models


def test_two_models_match_the_seed() -> None:
    ours = list(services(EXAMPLES / "two-models" / "compose.yml").values())
    theirs = list(services(SEEDS / "qwen3-30b-a3b+qwen2.5-coder-32b-instruct.yml").values())
    assert len(ours) == len(theirs) == 2
    for mine, seed in zip(ours, theirs, strict=True):
        assert mine["image"] == seed["image"]
        assert mine["devices"] == seed["devices"]
        assert mine["volumes"] == read_only_but_the_cache(seed["volumes"])  # with their modes
        assert mine["environment"] == dict(item.split("=", 1) for item in seed["environment"])
        seed_command = seed["command"].split()
        assert mine["command"][:2] == seed_command[:2]
        assert flags(mine["command"][2:]) == flags(seed_command[2:])  # ports 8001/8002, 32768, EP
    assert ours[0]["container_name"] != ours[1]["container_name"]


# ------------------------------------------------------------------------------- seed 003: two 8-NPU nodes


def seed_003() -> dict[str, str]:
    sections: dict[str, str] = {}
    current = None
    for line in (SEEDS / "qwen3-vl-multinode.txt").read_text().splitlines():
        marker = re.match(r"^# \[(.+)\]$", line)
        if marker:
            current = marker.group(1)
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


def seed_serve_flags(section: str) -> dict[str, str | None]:
    # the blog lost its line breaks: "\\ " separates the flags
    words = shlex.split(seed_003()[f"vllm serve: {section}"].replace("\\ ", " "))
    assert words[:2] == ["vllm", "serve"]
    return flags(words[3:])


def seed_exports(section: str) -> dict[str, str]:
    return dict(re.findall(r"export (\w+)=(\S+)", seed_003()[section]))


LAYOUTS = [
    ("qwen3-vl-2-nodes-tp", "TP 16 across nodes"),
    ("qwen3-vl-2-nodes-tp-pp", "TP 8 x PP 2"),
    ("qwen3-vl-2-nodes-ep", "TP 16 + EP across nodes"),
]
# What ascendgen does differently, on purpose: the request-log flags are the image's defaults
# (quiet since vLLM 0.10.1), and 0.9 is the image's default gpu-memory-utilization, so neither is written.
NOT_WRITTEN = {"--disable-uvicorn-access-log", "--disable-log-requests", "--gpu-memory-utilization"}


@pytest.mark.parametrize(("example", "section"), LAYOUTS)
def test_head_serves_the_seed_command(example: str, section: str) -> None:
    (head,) = services(EXAMPLES / example / "head" / "compose.yml").values()
    assert head["entrypoint"] == ["sh", "-c"]
    shell = shlex.split(head["command"][0])
    ray_end = shell.index("&&")
    assert shell[:ray_end] == ["ray", "start", "--disable-usage-stats", f"--node-ip-address={HEAD}", "--head",
                               "--port=6379"]  # fmt: skip
    serve = shell[ray_end + 1 :]
    assert serve[:3] == ["exec", "vllm", "serve"]
    expected = {k: v for k, v in seed_serve_flags(section).items() if k not in NOT_WRITTEN}
    ours = flags(serve[4:])
    assert ours.pop("--port") == "8000"
    assert ours == expected


@pytest.mark.parametrize(("example", "section"), LAYOUTS)
def test_nodes_have_the_seed_environment_and_ray_addresses(example: str, section: str) -> None:
    exports = seed_exports("ray, head")
    assert set(exports) == {
        "HCCL_IF_IP",
        "GLOO_SOCKET_IFNAME",
        "TP_SOCKET_IFNAME",
        "RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES",
        "ASCEND_RT_VISIBLE_DEVICES",
    }
    for directory, address in (("head", HEAD), ("worker-1", WORKER)):
        (service,) = services(EXAMPLES / example / directory / "compose.yml").values()
        env = service["environment"]
        assert env["HCCL_IF_IP"] == address
        assert env["GLOO_SOCKET_IFNAME"] == env["TP_SOCKET_IFNAME"] == env["HCCL_SOCKET_IFNAME"] == "enp1s0"
        for name in ("RAY_EXPERIMENTAL_NOSET_ASCEND_RT_VISIBLE_DEVICES", "ASCEND_RT_VISIBLE_DEVICES"):
            assert env[name] == exports[name]
        assert (
            "/usr/local/Ascend/driver/tools/hccn_tool:/usr/local/Ascend/driver/tools/hccn_tool:ro"
            in (service["volumes"])
        )
        assert len([d for d in service["devices"] if re.fullmatch(r"/dev/davinci\d+", d)]) == 8
    (worker,) = services(EXAMPLES / example / "worker-1" / "compose.yml").values()
    seed_worker = seed_003()["ray, worker"]
    assert "ray start --address='【Head节点的IP地址】:6379' --node-ip-address=【本地IP地址】" in seed_worker
    assert worker["entrypoint"] == ["ray"]
    assert f"--address={HEAD}:6379" in worker["command"] and f"--node-ip-address={WORKER}" in worker["command"]
    assert "--block" in worker["command"]  # keeps the container up, as the seed's interactive shell did


def test_pipeline_with_expert_parallel_is_refused(run) -> None:  # type: ignore[no-untyped-def]
    result = run("plan", "Qwen3-VL-30B-A3B-Instruct", "--node", f"{HEAD}:enp1s0", "--node", f"{WORKER}:enp1s0",
                 "--layout", "tp-pp-ep", "--dry-run")  # fmt: skip
    assert result.exit_code == 2
    assert "pipeline parallel together with expert parallel does not start" in result.stderr


def test_single_node_tp8_ep_matches_the_seed() -> None:
    (service,) = services(EXAMPLES / "qwen3-vl-30b-a3b-tp8" / "compose.yml").values()
    assert service["command"][0] == "serve"
    ours = flags(service["command"][2:])
    assert ours.pop("--port") == "8000"
    expected = {k: v for k, v in seed_serve_flags("single node TP 8 + EP").items() if k not in NOT_WRITTEN}
    assert ours == expected  # TP 8, expert parallel, qwen3-vl, 32768
    assert len([d for d in service["devices"] if re.fullmatch(r"/dev/davinci\d+", d)]) == 8
