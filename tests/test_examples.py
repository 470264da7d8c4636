"""examples/: each committed compose file is exactly what its Regenerate line produces today, and each
single-instance example agrees with the seed deployment it reproduces (tests/seed_compose/, copied from
the blog post that ran them on an Atlas 800I A2) on what matters: devices, volumes, environment and
serve flags. The deliberate differences are listed in examples/README.md and asserted here."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from helpers import REPO, Result, only_service

EXAMPLES = REPO / "examples"
SEEDS = Path(__file__).parent / "seed_compose"
# example directory -> seed compose file it reproduces
SINGLE_INSTANCE = {
    "qwen3-8b": "qwen3-8b.yml",
    "qwen3-30b-a3b": "qwen3-30b-a3b.yml",
    "qwen2.5-vl-32b-instruct": "qwen2.5-vl-32b-instruct.yml",
    "deepseek-v3-pruning": "deepseek-v3-pruning.yml",
}

# The planner's max-model-len for each (examples/README.md, "Deliberately different"): the model's whole context
# where the KV cache holds it (Qwen3: 40,960; DeepSeek-V3: 163,840), the KV capacity where it does not
# (Qwen2.5-VL-32B-Instruct on 4 x 910B4: 125,952 of 128,000 tokens of KV cache, less the 1% margin in whole
# blocks: ceil(984 x 0.01) = 10 blocks = 1,280 tokens kept back -> 124,672; tests/test_planner.py derives it).
PLANNED_MAX_MODEL_LEN = {
    "qwen3-8b": "40960",
    "qwen3-30b-a3b": "40960",
    "qwen2.5-vl-32b-instruct": "124672",
    "deepseek-v3-pruning": "163840",
}
WRITABLE = ("/root/.cache:/root/.cache",)  # the only mount the container writes to (downloads, compile caches)


def read_only_but_the_cache(volumes: list[str]) -> list[str]:
    return [v if v in WRITABLE else f"{v}:ro" for v in volumes]


def flags(command: list[str]) -> dict[str, str | None]:
    """`--flag value` / `--flag` pairs, with vLLM's underscore spelling (`--enable_expert_parallel`) folded
    to dashes: vLLM's FlexibleArgumentParser treats them as the same flag."""
    parsed: dict[str, str | None] = {}
    rest = command[2:]  # after `serve MODEL`
    i = 0
    while i < len(rest):
        name = "--" + rest[i].removeprefix("--").replace("_", "-")
        if i + 1 < len(rest) and not rest[i + 1].startswith("--"):
            parsed[name] = rest[i + 1]
            i += 2
        else:
            parsed[name] = None
            i += 1
    return parsed


def seed_service(name: str) -> dict[str, Any]:
    service = only_service(yaml.safe_load((SEEDS / name).read_text()))
    service["command"] = service["command"].split()  # the seeds write `command: >` folded text
    service["environment"] = dict(item.split("=", 1) for item in service["environment"])
    return service


@pytest.mark.parametrize("example", sorted(str(p.relative_to(EXAMPLES)) for p in EXAMPLES.glob("**/compose.yml")))
def test_example_is_what_ascendgen_writes_today(example: str, run: Callable[..., Result]) -> None:
    """`ascendgen check` re-renders the file from the recipe in its header, byte for byte."""
    result = run("check", str(EXAMPLES / example))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "up to date" in result.stderr


@pytest.mark.parametrize(("example", "seed"), sorted(SINGLE_INSTANCE.items()))
def test_example_matches_seed(example: str, seed: str) -> None:
    ours = only_service(yaml.safe_load((EXAMPLES / example / "compose.yml").read_text()))
    theirs = seed_service(seed)

    assert ours["image"] == theirs["image"]
    assert ours["devices"] == theirs["devices"]
    # every mount with its mode: the seed's, read-only (deliberate, examples/README.md) except the cache
    assert ours["volumes"] == read_only_but_the_cache(theirs["volumes"])
    assert ours["environment"] == theirs["environment"]
    for key in ["init", "network_mode", "shm_size", "entrypoint"]:
        assert ours[key] == theirs[key], key
    assert ours["command"][:2] == theirs["command"][:2]  # serve /models/<org>/<name>

    ours_flags, seed_flags = flags(ours["command"]), flags(theirs["command"])
    # deliberate difference (examples/README.md): max-model-len comes from the planner, where every seed fixes 32768
    assert seed_flags.pop("--max-model-len") == "32768"
    assert ours_flags.pop("--max-model-len") == PLANNED_MAX_MODEL_LEN[example]
    assert ours_flags == seed_flags
    assert "healthcheck" in ours and "healthcheck" not in theirs


def test_every_seed_deployment_has_an_example() -> None:
    assert set(SINGLE_INSTANCE) <= {p.parent.name for p in EXAMPLES.glob("*/compose.yml")}


def test_examples_readme_lists_every_example() -> None:
    readme = (EXAMPLES / "README.md").read_text()
    for compose in EXAMPLES.glob("**/compose.yml"):
        top = compose.relative_to(EXAMPLES).parts[0]
        assert f"{top}/" in readme
