"""The data-parallel and gateway examples (examples/qwen3-8b-dp4, two-models-gateway,
deepseek-r1-w8a8-2-nodes-dp-ep), compared with what they reproduce: vllm-ascend's multi-node data-parallel tutorial
for DeepSeek-R1-W8A8 (v0.23.0 docs/source/tutorials/models/DeepSeek-R1.md L248-L338: two Atlas 800 A2 64 GB, Node 0
`--data-parallel-size 4 --data-parallel-size-local 2 --data-parallel-address $local_ip --data-parallel-rpc-port 13389
--tensor-parallel-size 4 --quantization ascend --enable-expert-parallel`, Node 1 the same with `--headless
--data-parallel-start-rank 2 --data-parallel-address $node0_ip`), and seed 001's two models on ports 8001 / 8002, here
behind one endpoint on 8000. Each file is also byte-checked by tests/test_examples.py."""

from __future__ import annotations

from typing import Any

import yaml

from helpers import REPO

EXAMPLES = REPO / "examples"
HEAD, WORKER = "192.168.0.147", "192.168.0.35"


def services(path: str) -> dict[str, Any]:
    return yaml.safe_load((EXAMPLES / path).read_text())["services"]  # type: ignore[no-any-return]


def flags(command: list[str]) -> dict[str, str | None]:
    parsed: dict[str, str | None] = {}
    words = command[2:]  # after `serve MODEL`
    i = 0
    while i < len(words):
        if i + 1 < len(words) and not words[i + 1].startswith("--"):
            parsed[words[i]], i = words[i + 1], i + 2
        else:
            parsed[words[i]], i = None, i + 1
    return parsed


def test_one_model_four_times_on_one_server() -> None:
    (service,) = services("qwen3-8b-dp4/compose.yml").values()
    npus = [d for d in service["devices"] if d.removeprefix("/dev/davinci").isdigit()]
    assert npus == ["/dev/davinci0", "/dev/davinci1", "/dev/davinci2", "/dev/davinci3"]
    assert flags(service["command"])["--data-parallel-size"] == "4"
    assert "--tensor-parallel-size" not in service["command"]  # TP 1 per rank
    assert service["labels"]["io.ascendgen.port"] == "8000"  # one port for the four engines


def test_two_models_behind_one_gateway() -> None:
    found = services("two-models-gateway/compose.yml")
    assert list(found) == ["vllm-qwen3-30b-a3b", "vllm-qwen2-5-coder-32b-instruct", "gateway"]
    ports = [flags(found[name]["command"])["--port"] for name in list(found)[:2]]
    assert ports == ["8001", "8002"]  # seed 001's ports, now on 127.0.0.1
    assert all(flags(found[name]["command"])["--host"] == "127.0.0.1" for name in list(found)[:2])
    assert found["gateway"]["command"][-2:] == ["--port", "8000"]
    config = yaml.safe_load((EXAMPLES / "two-models-gateway" / "litellm-config.yaml").read_text())
    assert [entry["litellm_params"]["api_base"] for entry in config["model_list"]] == [
        "http://127.0.0.1:8001/v1",
        "http://127.0.0.1:8002/v1",
    ]
    assert not (EXAMPLES / "two-models-gateway" / ".env").exists()  # the key is never committed


def test_deepseek_r1_w8a8_over_two_servers_as_the_tutorial_runs_it() -> None:
    (head,) = services("deepseek-r1-w8a8-2-nodes-dp-ep/head/compose.yml").values()
    (worker,) = services("deepseek-r1-w8a8-2-nodes-dp-ep/worker-1/compose.yml").values()
    tutorial = {
        "--data-parallel-size": "4",
        "--data-parallel-size-local": "2",
        "--data-parallel-address": HEAD,
        "--data-parallel-rpc-port": "13389",
        "--tensor-parallel-size": "4",
        "--quantization": "ascend",
        "--enable-expert-parallel": None,
    }
    head_flags, worker_flags = flags(head["command"]), flags(worker["command"])
    assert tutorial.items() <= head_flags.items()
    assert tutorial.items() <= worker_flags.items()
    assert "--headless" not in head_flags and "--data-parallel-start-rank" not in head_flags
    assert worker_flags["--data-parallel-start-rank"] == "2" and "--headless" in worker_flags
    assert head["environment"]["HCCL_IF_IP"] == HEAD and worker["environment"]["HCCL_IF_IP"] == WORKER
    assert "--distributed-executor-backend" not in head["command"]  # no Ray
