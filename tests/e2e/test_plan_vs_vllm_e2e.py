"""The plan against reality on a real Docker Engine: the stand-in logs vLLM's startup lines with the KV cache
size it is told (STANDIN_KV_TOKENS), or refuses a --max-model-len above it with vLLM's wording; `up` shows
the plan's numbers beside vLLM's, `status --json` gives both, a refused start names the exact plan that
starts, and `up --replan` writes it and starts."""

from __future__ import annotations

import json
from collections.abc import Callable

import yaml

from deployment import Deployment
from helpers import Result

Run = Callable[..., Result]
Deploy = Callable[..., Deployment]


def planned_tokens(d: Deployment) -> int:
    labels = yaml.safe_load((d.directory / "compose.yml").read_text())["services"][d.service]["labels"]
    return int(labels["io.ascendgen.kv-cache-tokens"])


def kv_tokens(d: Deployment, tokens: int) -> None:
    d.override(f"services:\n  {d.service}:\n    environment:\n      STANDIN_KV_TOKENS: '{tokens}'\n")


def test_up_prints_the_plan_beside_vllms_numbers_and_status_gives_both(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B", "--max-model-len", "8192")
    planned = planned_tokens(d)
    measured = planned - 4096  # vLLM found 32 blocks less room than planned
    kv_tokens(d, measured)
    result = run("up", str(d.directory), "--timeout", "60")
    assert result.exit_code == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if line.lstrip("│ ").startswith(d.service))
    difference = round((measured - planned) / planned * 100, 1)
    assert f"{planned:,}" in row and f"{measured:,}" in row and f"{difference:+.1f}%" in row, result.stdout

    (status,) = json.loads(run("status", str(d.directory), "--json").stdout)
    assert status["planned_kv_cache_tokens"] == planned and status["measured_kv_cache_tokens"] == measured

    calibration = run("calibrate", "--json").json()
    (group,) = calibration["groups"]
    assert group["count"] == 1 and group["measured_tokens"] == measured and group["planned_tokens"] == planned


def test_a_kv_cache_too_small_names_the_plan_that_starts(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B", "--max-model-len", "32768")
    kv_tokens(d, 16384)
    result = run("up", str(d.directory), "--timeout", "60")
    assert result.exit_code == 1
    assert "vLLM computed that its KV cache holds 16,384 tokens, less than --max-model-len 32,768" in result.stderr
    where = d.directory.resolve()
    assert f"cd {where} && ascendgen plan Qwen3-8B --max-model-len 16384 --port {d.port}" in result.stderr
    assert f"ascendgen up {where} --replan" in result.stderr
    assert "--max-model-len 32768" in (d.directory / "compose.yml").read_text()  # nothing rewritten


def test_up_replan_rewrites_compose_yml_and_starts(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B", "--max-model-len", "32768")
    kv_tokens(d, 16384)
    result = run("up", str(d.directory), "--timeout", "60", "--replan")
    assert result.exit_code == 0, result.stderr
    assert "replanning with --max-model-len 16,384" in result.stderr
    compose = (d.directory / "compose.yml").read_text()
    assert "--max-model-len 16384" in compose.splitlines()[1]  # the recipe in the header
    command = yaml.safe_load(compose)["services"][d.service]["command"]
    assert command[command.index("--max-model-len") + 1] == "16384"
    (status,) = json.loads(run("status", str(d.directory), "--json").stdout)
    assert status["ready"] is True and status["measured_kv_cache_tokens"] == 16384
    assert run("smoke", str(d.directory)).exit_code == 0
