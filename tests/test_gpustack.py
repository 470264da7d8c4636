"""`ascendgen gpustack server|worker` run as a user runs them: the files pass Compose v2's own parser and
read back as intended; GPUStack 2.x's (the default) agree with the `docker run` lines of GPUStack's v2.2.3
docs, and `--gpustack-version 0.7`'s with seed 000's `docker run` lines (tests/seed_compose/gpustack-*.txt),
except for the deliberate improvements (a pinned image tag instead of `latest-npu`, driver and models mounts
read-only, the token in .env); they never hold the worker token or the admin password."""

from __future__ import annotations

import hashlib
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from ascendgen import gpustack
from ascendgen.errors import AscendgenError, InputError
from ascendgen.gpustack import (
    PRIVILEGE_WARNING,
    SERVER_FLAGS,
    TOKEN_HINT,
    V2_NOTE,
    V2_TOKEN_HINT,
    WORKER_FLAGS,
    ServerRequest,
    WorkerRequest,
    bootstrap_secrets,
    build,
    check_server_url,
    recipe_command,
    render_gpustack,
    render_recipe,
    request_from_flags,
    request_from_recipe,
    worker_secrets,
)
from ascendgen.hardware import load_hardware
from ascendgen.records import validate
from ascendgen.render import yaml_quote

from helpers import REPO, Run, Write, compose_config, only_service

SEEDS = Path(__file__).parent / "seed_compose"
EXAMPLES = REPO / "examples"
SEED_URL = "http://172.16.33.106:8080"
# A stand-in, never a real token: the seed's own token is read from the fixture where it is needed.
PLACEHOLDER_TOKEN = "0123456789abcdef0123456789abcdef"
SEED_MODELS_DIR = ["--models-dir", "/data/models"]  # seed 000's host directory; ascendgen's default is /models
PINNED = "v0.7.1"  # the last GPUStack release with -npu images (gpustack.py: IMAGE_TAGS["0.7"])
PINNED_V2 = "v2.2.3"  # the newest verified GPUStack tag (gpustack.py: IMAGE_TAGS["2"])
V07 = ["--gpustack-version", "0.7"]
DRIVER_PATHS = {
    "/usr/local/dcmi",
    "/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info",
}


def raw_service(directory: Path) -> dict[str, Any]:
    return only_service(yaml.safe_load((directory / "compose.yml").read_text()))


@dataclass
class DockerRun:
    """The parts of a `docker run` line that a compose service carries."""

    name: str = ""
    restart: str = ""
    network: str = ""
    ipc: str = ""
    devices: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    image: str = ""
    args: list[str] = field(default_factory=list)


def parse_docker_run(path: Path) -> DockerRun:
    text = "\n".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
    words = shlex.split(text.replace("\\\n", " "))
    assert words[:3] == ["docker", "run", "-d"], words[:3]
    parsed = DockerRun()
    rest = iter(words[3:])
    for word in rest:
        flag, _, inline = word.partition("=")
        if flag == "--name":
            parsed.name = inline or next(rest)
        elif flag == "--restart":
            parsed.restart = inline or next(rest)
        elif flag == "--network":
            parsed.network = inline or next(rest)
        elif flag == "--ipc":
            parsed.ipc = inline or next(rest)
        elif flag == "--device":
            parsed.devices.append(inline or next(rest))
        elif flag in ("-v", "--volume"):
            parsed.volumes.append(inline or next(rest))
        elif word.startswith("-"):
            raise AssertionError(f"unexpected docker run option {word} in {path.name}")
        else:
            parsed.image = word
            parsed.args = list(rest)
    return parsed


def check_matches_seed(directory: Path, seed: DockerRun, env: dict[str, str] | None = None) -> dict[str, Any]:
    """What ours shares with the seed's `docker run`, read from our file and through `docker compose config`."""
    ours = raw_service(directory)
    # deliberate: the tag is pinned; seed 000's `latest-npu` was v0.7.0 on 2025-07-30 and has moved since
    assert seed.image == "gpustack/gpustack:latest-npu"
    assert ours["image"] == f"gpustack/gpustack:{PINNED}-npu"
    assert ours["container_name"] == seed.name
    assert ours["restart"] == seed.restart
    assert ours["network_mode"] == seed.network == "host"
    assert ours["ipc"] == seed.ipc == "host"
    # the same devices; ours lists the control devices first, as `ascendgen plan` does
    assert sorted(ours["devices"]) == sorted(seed.devices)
    # the same volumes in the same order; deliberate: driver paths and models read-only
    assert [v.removesuffix(":ro") for v in ours["volumes"]] == seed.volumes
    for volume in ours["volumes"]:
        source, target = volume.split(":")[:2]
        assert volume.endswith(":ro") == (source in DRIVER_PATHS or target == "/models"), volume

    config = compose_config(directory, env)
    service = only_service(config)
    assert service["image"] == ours["image"]
    assert service["network_mode"] == "host" and service["ipc"] == "host"
    assert [d["target"] for d in service["devices"]] == ours["devices"]
    data = next(v for v in service["volumes"] if v["target"] == "/var/lib/gpustack")
    assert data["type"] == "volume" and data["source"] == "gpustack-data"
    # the data volume keeps the seed's name: a deployment moved from `docker run` keeps its data
    assert config["volumes"]["gpustack-data"]["name"] == "gpustack-data"
    models = next(v for v in service["volumes"] if v["target"] == "/models")
    assert models["source"] == "/data/models" and models["read_only"] is True
    for volume in service["volumes"]:
        if volume["type"] == "bind":
            assert bool(volume.get("read_only")) == (volume["source"] in DRIVER_PATHS | {"/data/models"}), volume
    return service


def test_server_matches_seed(compose_v2: None, run: Run, tmp_path: Path) -> None:
    seed = parse_docker_run(SEEDS / "gpustack-server.txt")
    result = run(
        "gpustack", "server", *V07, "--npus", "0-7", "--port", "8080", *SEED_MODELS_DIR, "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.stderr
    service = check_matches_seed(tmp_path, seed)
    assert service["command"] == seed.args == ["--port", "8080"]
    assert "environment" not in service
    assert not (tmp_path / ".env").exists()


def test_worker_matches_seed_with_the_token_in_env_file(compose_v2: None, run: Run, tmp_path: Path) -> None:
    seed = parse_docker_run(SEEDS / "gpustack-worker.txt")
    seed_token = seed.args[seed.args.index("--token") + 1]
    result = run("gpustack", "worker", *V07, "--server-url", SEED_URL, "--token", seed_token, *SEED_MODELS_DIR,
                 "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.stderr

    text = (tmp_path / "compose.yml").read_text()
    assert seed_token not in text
    service = check_matches_seed(tmp_path, seed)
    # deliberate: the token moves from the command line to .env, and reaches GPUStack as GPUSTACK_TOKEN
    assert seed.args == ["--server-url", SEED_URL, "--token", seed_token]
    assert service["command"] == ["--server-url", SEED_URL]
    assert service["environment"] == {"GPUSTACK_TOKEN": seed_token}  # interpolated from .env by compose
    assert raw_service(tmp_path)["environment"] == {"GPUSTACK_TOKEN": "${GPUSTACK_TOKEN:?set GPUSTACK_TOKEN in .env}"}

    env_file = tmp_path / ".env"
    assert env_file.read_text() == f"GPUSTACK_TOKEN={seed_token}\n"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()
    assert seed_token not in result.stdout + result.stderr


def test_cpu_only_server_is_a_management_node(compose_v2: None, run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "server", *V07, "--cpu-only", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    service = only_service(compose_config(tmp_path))
    assert service["image"] == f"gpustack/gpustack:{PINNED}-cpu"
    assert "devices" not in service
    assert service["command"] == ["--port", "8080", "--disable-worker"]
    assert [v["target"] for v in service["volumes"]] == ["/models", "/var/lib/gpustack"]
    assert service["network_mode"] == "host" and "ipc" not in service


def test_defaults_pin_the_image_and_mount_models_read_only_like_plan(
    compose_v2: None, run: Run, tmp_path: Path
) -> None:
    assert run("gpustack", "server", *V07, "--out", str(tmp_path / "gs")).exit_code == 0
    assert run("plan", "Qwen3-8B", "--out", str(tmp_path / "plan")).exit_code == 0
    gpustack = only_service(compose_config(tmp_path / "gs"))
    plan = only_service(compose_config(tmp_path / "plan"))
    assert gpustack["image"] == "gpustack/gpustack:v0.7.1-npu"
    (gs_models,) = [v for v in gpustack["volumes"] if v["target"] == "/models"]
    (plan_models,) = [v for v in plan["volumes"] if v["target"] == "/models"]
    assert gs_models["source"] == plan_models["source"] == "/models"
    assert gs_models["read_only"] is plan_models["read_only"] is True
    # what README and gpustack.py advise for a Model File downloaded under /models: the override's mount of
    # the same target replaces ours (compose merges service volumes by target)
    (tmp_path / "gs" / "compose.override.yml").write_text(
        "services:\n  gpustack:\n    volumes:\n      - /models:/models\n"
    )
    (writable,) = [v for v in only_service(compose_config(tmp_path / "gs"))["volumes"] if v["target"] == "/models"]
    assert writable["source"] == "/models" and not writable.get("read_only")


@pytest.mark.parametrize(
    ("version", "tag", "image"),
    [
        (V07, "latest", "gpustack/gpustack:latest-npu"),
        (V07, "v0.7.0", "gpustack/gpustack:v0.7.0-npu"),
        ([], "v2.2", "gpustack/gpustack:v2.2"),
        ([], "latest", "gpustack/gpustack:latest"),
    ],
)
def test_another_release_can_be_named(run: Run, tmp_path: Path, version: list[str], tag: str, image: str) -> None:
    assert run("gpustack", "server", *version, "--image-tag", tag, "--out", str(tmp_path)).exit_code == 0
    assert raw_service(tmp_path)["image"] == image
    assert f"--image-tag {tag}" in (tmp_path / "compose.yml").read_text()  # the recipe keeps it


def test_cpu_only_takes_no_npus(run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "server", *V07, "--cpu-only", "--npus", "0-3", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "--cpu-only" in result.stderr
    assert not tmp_path.joinpath("compose.yml").exists()


@pytest.mark.parametrize(("version", "hint"), [([], V2_TOKEN_HINT), (V07, TOKEN_HINT)])
def test_missing_token_is_refused_with_how_to_get_it(run: Run, tmp_path: Path, version: list[str], hint: str) -> None:
    out = tmp_path / "worker"
    result = run("gpustack", "worker", *version, "--server-url", SEED_URL, "--out", str(out))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert hint in result.stderr and "--token" in result.stderr
    assert not out.exists()


def test_token_already_in_env_file_is_used(compose_v2: None, run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"OTHER=1\nGPUSTACK_TOKEN={PLACEHOLDER_TOKEN}\n")
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / ".env").read_text() == f"OTHER=1\nGPUSTACK_TOKEN={PLACEHOLDER_TOKEN}\n"
    # an existing .env is tightened to 0600 and git-ignored too
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()
    assert only_service(compose_config(tmp_path))["environment"]["GPUSTACK_TOKEN"] == PLACEHOLDER_TOKEN


def test_token_from_env_writes_no_secret(compose_v2: None, run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token-from-env", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yml"]
    done = subprocess.run(["docker", "compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "GPUSTACK_TOKEN" in done.stderr  # compose refuses to start without it
    service = only_service(compose_config(tmp_path, {"GPUSTACK_TOKEN": PLACEHOLDER_TOKEN}))
    assert service["environment"]["GPUSTACK_TOKEN"] == PLACEHOLDER_TOKEN


def test_token_and_token_from_env_together_are_refused(run: Run, tmp_path: Path) -> None:
    result = run(
        "gpustack", "worker", "--server-url", SEED_URL, "--token", "abc", "--token-from-env", "--out", str(tmp_path)
    )
    assert result.exit_code == 2 and not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    "url",
    [
        "172.16.33.106:8080",
        "ftp://172.16.33.106",
        "http://",
        "http://:8080",
        "http://host:99999",
        "http://host:port",
        "http://a b:8080",
        "http://host:8080/?x=1",
        "http://host:8080/#top",
        "http://user@host:8080",
        "http://host\n:8080",
        "",
    ],
)
def test_bad_server_url_is_refused(run: Run, tmp_path: Path, url: str) -> None:
    result = run("gpustack", "worker", "--server-url", url, "--token", PLACEHOLDER_TOKEN, "--out", str(tmp_path))
    assert result.exit_code == 2, result.stderr
    assert "--server-url" in result.stderr
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("http://172.16.33.106:8080", "http://172.16.33.106:8080"),
        ("https://gpustack.example.com/", "https://gpustack.example.com"),
        ("http://[fd00::1]:8080", "http://[fd00::1]:8080"),
        ("http://gpu-server", "http://gpu-server"),
    ],
)
def test_good_server_urls(url: str, kept: str) -> None:
    assert check_server_url(url) == kept


@pytest.mark.parametrize("token", ["", "has space", "dollar$sign", "hash#mark", 'quote"', "back\\slash"])
def test_token_compose_would_change_is_refused(run: Run, tmp_path: Path, token: str) -> None:
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token", token, "--out", str(tmp_path))
    assert result.exit_code == 2
    assert not any(tmp_path.iterdir())


def test_same_inputs_same_bytes(run: Run, tmp_path: Path) -> None:
    for name in ("a", "b"):
        for args in (
            ["server", *V07, "--npus", "0-3"],
            ["server", *V07, "--cpu-only", "--port", "80"],
            ["worker", *V07, "--server-url", SEED_URL, "--token", PLACEHOLDER_TOKEN],
            ["server"],
            ["worker", "--server-url", SEED_URL, "--token", PLACEHOLDER_TOKEN],
        ):
            out = tmp_path / name / args[0] / str(len(args))
            assert run("gpustack", *args, "--out", str(out)).exit_code == 0
    for first in sorted((tmp_path / "a").rglob("compose.yml")):
        second = tmp_path / "b" / first.relative_to(tmp_path / "a")
        assert first.read_bytes() == second.read_bytes()
    # and again over its own output: unchanged
    out = tmp_path / "a" / "server" / "5"
    before = (out / "compose.yml").read_bytes()
    assert run("gpustack", "server", *V07, "--npus", "0-3", "--out", str(out)).exit_code == 0
    assert (out / "compose.yml").read_bytes() == before


def test_regenerate_line_reproduces_the_file_without_secrets(run: Run, tmp_path: Path) -> None:
    first = tmp_path / "first"
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token", PLACEHOLDER_TOKEN, "--out", str(first))
    assert result.exit_code == 0, result.stderr
    text = (first / "compose.yml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("# Regenerate (in this directory): "))
    recipe = shlex.split(line.split(": ", 1)[1])
    assert recipe == ["ascendgen", "gpustack", "worker", "--server-url", SEED_URL, "--token-from-env"]
    again = tmp_path / "again"
    assert run(*recipe[1:], "--out", str(again)).exit_code == 0
    assert (again / "compose.yml").read_text() == text
    assert render_recipe(recipe, first) == text


def test_bootstrap_password_goes_to_env_file(compose_v2: None, run: Run, tmp_path: Path) -> None:
    password = "Adm1n-pass.word"
    result = run("gpustack", "server", "--bootstrap-password", password, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "compose.yml").read_text()
    assert password not in text
    assert "ascendgen gpustack server --bootstrap-password-from-env\n" in text
    assert (tmp_path / ".env").read_text() == f"GPUSTACK_BOOTSTRAP_PASSWORD={password}\n"
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert only_service(compose_config(tmp_path))["environment"] == {"GPUSTACK_BOOTSTRAP_PASSWORD": password}


def test_generated_password_is_kept_on_rerun(run: Run, tmp_path: Path) -> None:
    assert run("gpustack", "server", "--generate-password", "--out", str(tmp_path)).exit_code == 0
    first = (tmp_path / ".env").read_text()
    assert first.startswith("GPUSTACK_BOOTSTRAP_PASSWORD=") and len(first.strip()) > 40
    assert run("gpustack", "server", "--generate-password", "--out", str(tmp_path)).exit_code == 0
    assert (tmp_path / ".env").read_text() == first  # GPUStack used it on the first start already


def test_unsafe_password_is_refused(run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "server", "--bootstrap-password", "pa$$ word", "--out", str(tmp_path))
    assert result.exit_code == 2 and not any(tmp_path.iterdir())


def test_npus_host_root_and_other_platforms(compose_v2: None, run: Run, write: Write, tmp_path: Path) -> None:
    hardware = write(
        "hw.yaml",
        """
        servers:
          - name: fake-host
            npu_type: 910B4
            npu_count: 8
            host_root: /host
        """,
    )
    out = tmp_path / "out"
    result = run("gpustack", "worker", *V07, "--server-url", SEED_URL, "--token-from-env", "--npus", "4-7",
                 "--server", "fake-host", "--hardware", str(hardware), "--out", str(out))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    ours = raw_service(out)
    assert ours["devices"] == [
        "/host/dev/davinci_manager:/dev/davinci_manager",
        "/host/dev/hisi_hdc:/dev/hisi_hdc",
        "/host/dev/devmm_svm:/dev/devmm_svm",
        *[f"/host/dev/davinci{i}:/dev/davinci{i}" for i in range(4, 8)],
    ]
    assert ours["volumes"][0] == "/host/usr/local/dcmi:/usr/local/dcmi:ro"
    text = (out / "compose.yml").read_text()
    assert "--npus 4-7 --token-from-env --hardware ../hw.yaml\n" in text  # relative to the compose file
    service = only_service(compose_config(out, {"GPUSTACK_TOKEN": PLACEHOLDER_TOKEN}))
    assert service["devices"][3] == {"source": "/host/dev/davinci4", "target": "/dev/davinci4", "permissions": "rwm"}
    assert render_recipe(shlex.split(text.splitlines()[1].split(": ", 1)[1]), out) == text

    duo = run("gpustack", "server", *V07, "--server", "atlas-300i-duo", "--out", str(tmp_path / "duo"))
    assert duo.exit_code == 0, duo.stderr
    assert raw_service(tmp_path / "duo")["image"] == f"gpustack/gpustack:{PINNED}-npu-310p"

    a3 = run("gpustack", "server", *V07, "--server", "atlas-800i-a3", "--out", str(tmp_path / "a3"))
    assert a3.exit_code == 2 and "no image" in a3.stderr
    # GPUStack 2.x's one image runs on the A3 (910C) too
    a3_v2 = run("gpustack", "worker", "--server-url", SEED_URL, "--token-from-env", "--server", "atlas-800i-a3",
                "--out", str(tmp_path / "a3v2"))  # fmt: skip
    assert a3_v2.exit_code == 0, a3_v2.stderr
    assert raw_service(tmp_path / "a3v2")["image"] == f"gpustack/gpustack:{PINNED_V2}"
    # the Ascend Docker Runtime mounts the devices from the engine's own host: a host_root cannot apply
    v2 = run("gpustack", "worker", "--server-url", SEED_URL, "--token-from-env", "--server", "fake-host",
             "--hardware", str(hardware), "--out", str(tmp_path / "v2"))  # fmt: skip
    assert v2.exit_code == 2 and "host_root" in v2.stderr and not (tmp_path / "v2").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--npus", "8"],
        ["--npus", "3-1"],
        ["--port", "0"],
        ["--image-tag", "v0.7.1:evil"],
        ["--models-dir", "relative/models"],
        ["--models-dir", "/data/a:b"],
        ["--server", "no-such-server"],
    ],
)
def test_bad_server_options_are_refused(run: Run, tmp_path: Path, args: list[str]) -> None:
    result = run("gpustack", "server", *V07, *args, "--out", str(tmp_path))
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not any(tmp_path.iterdir())


def test_hostile_models_dir_reads_back_exactly(compose_v2: None, run: Run, tmp_path: Path) -> None:
    models_dir = "/data/my models/$HOME #x [y] {z} 模型"
    result = run(
        "gpustack", "server", *V07, "--models-dir", models_dir, "--image-tag", "v0.7.1", "--out", str(tmp_path)
    )
    assert result.exit_code == 0, result.stderr
    service = only_service(compose_config(tmp_path))
    models = next(v for v in service["volumes"] if v["target"] == "/models")
    assert models["source"] == models_dir.replace("$", "$$")  # `config` prints a literal `$` as `$$`
    assert service["image"] == "gpustack/gpustack:v0.7.1-npu"


def test_hand_edits_are_not_overwritten(run: Run, tmp_path: Path) -> None:
    assert run("gpustack", "server", *V07, "--out", str(tmp_path)).exit_code == 0
    compose = tmp_path / "compose.yml"
    compose.write_text(compose.read_text().replace('"--port", "8080"', '"--port", "9090"'))
    refused = run("gpustack", "server", *V07, "--out", str(tmp_path))
    assert refused.exit_code == 1 and "edited by hand" in refused.stderr
    assert '"9090"' in compose.read_text()
    assert run("gpustack", "server", *V07, "--out", str(tmp_path), "--force").exit_code == 0
    assert '"8080"' in compose.read_text()


@pytest.mark.parametrize("command", ["server", "worker"])
def test_help_has_an_example(run: Run, command: str) -> None:
    result = run("gpustack", command, "--help")
    assert result.exit_code == 0
    assert f"Example: ascendgen gpustack {command}" in result.stdout


# ---- examples/gpustack-*: committed output, regenerated by its header's recipe --------------------------------

GPUSTACK_EXAMPLES = [
    "gpustack-server",
    "gpustack-server-cpu",
    "gpustack-worker",
    "gpustack-v2-server",
    "gpustack-v2-worker",
]


@pytest.mark.parametrize("example", GPUSTACK_EXAMPLES)
def test_example_is_what_its_recipe_writes(example: str) -> None:
    directory = EXAMPLES / example
    text = (directory / "compose.yml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("# Regenerate (in this directory): "))
    assert render_recipe(shlex.split(line.split(": ", 1)[1]), directory) == text


def test_examples_hold_no_secrets(compose_v2: None) -> None:
    for example in GPUSTACK_EXAMPLES:
        assert sorted(p.name for p in (EXAMPLES / example).iterdir()) == ["compose.yml"]
    seed = parse_docker_run(SEEDS / "gpustack-server.txt")
    check_matches_seed(EXAMPLES / "gpustack-server", seed)
    worker_seed = parse_docker_run(SEEDS / "gpustack-worker.txt")
    check_matches_seed(EXAMPLES / "gpustack-worker", worker_seed, {"GPUSTACK_TOKEN": PLACEHOLDER_TOKEN})


def test_server_url_validation_is_an_input_error() -> None:
    with pytest.raises(InputError):
        check_server_url("gopher://x")


@pytest.mark.parametrize(
    "recipe",
    [
        "ascendgen gpustack server --bogus",
        "ascendgen gpustack worker --token-from-env",
        "ascendgen gpustack nodes",
        "ascendgen plan Qwen3-8B",
    ],
)
def test_bad_recipe_is_an_input_error(recipe: str, tmp_path: Path) -> None:
    with pytest.raises(InputError):
        render_recipe(shlex.split(recipe), tmp_path)


# ---- the requests and their flag tables (request.py's Flag, recipe_args, parse_recipe) ----------------------


def test_every_flag_of_each_table_reads_back_as_written(tmp_path: Path) -> None:
    """A flag added to SERVER_FLAGS or WORKER_FLAGS is written and read through the table: each set here."""
    hardware = str(tmp_path / "hw" / "mine.yaml")
    requests = [
        ServerRequest(
            gpustack_version="0.7",
            port=9090,
            image_tag="v0.7.0",
            models_dir="/data/m",
            cpu_only=True,
            bootstrap_password=True,
        ),
        ServerRequest(gpustack_version="0.7", npus=(0, 1, 2, 3), server="atlas-800i-a2", hardware_files=(hardware,)),
        WorkerRequest(
            gpustack_version="0.7",
            server_url=SEED_URL,
            npus=(4, 5),
            image_tag="v0.7.0",
            models_dir="/data/m",
            server="atlas-800i-a2",
            hardware_files=(hardware,),
        ),
    ]
    written: set[str] = set()
    for request in requests:
        command = recipe_command(request, relative_to=tmp_path / "deploy")
        written |= {word for word in shlex.split(command) if word.startswith("--")}
        assert "../hw/mine.yaml" in command or not request.hardware_files
        back = request_from_recipe(shlex.split(command), tmp_path / "deploy")
        resolved = tuple(str(Path(path).resolve()) for path in back.hardware_files)
        assert replace(back, hardware_files=resolved) == request
    assert written == {flag.option for flag in (*SERVER_FLAGS, *WORKER_FLAGS)}


@pytest.mark.parametrize(
    ("request_", "recipe"),
    [
        (ServerRequest(), "ascendgen gpustack server"),
        (ServerRequest(gpustack_version="0.7", npus=(7, 5, 6)),
         "ascendgen gpustack server --gpustack-version 0.7 --npus 5-7"),
        (ServerRequest(gpustack_version="2", port=8080), "ascendgen gpustack server --port 8080"),  # "2": left out
        (ServerRequest(gpustack_version="0.7", cpu_only=True, bootstrap_password=True),
         "ascendgen gpustack server --gpustack-version 0.7 --cpu-only --bootstrap-password-from-env"),
        (validate(WorkerRequest, {"server_url": SEED_URL + "/"}),
         f"ascendgen gpustack worker --server-url {SEED_URL} --token-from-env"),
    ],
)  # fmt: skip
def test_the_canonical_recipe(request_: ServerRequest | WorkerRequest, recipe: str) -> None:
    assert recipe_command(request_) == recipe


@pytest.mark.parametrize(
    ("command", "given", "message"),
    [
        ("server", {"port": 0}, "--port 0: a TCP port is 1-65535"),
        ("server", {"npus": "3-1"}, "--npus '3-1': "),
        ("server", {"image_tag": "a:b"}, "--image-tag 'a:b': a docker tag"),
        ("server", {"models_dir": "models"}, "--models-dir 'models': give the host directory as an absolute path"),
        ("server", {"cpu_only": True, "npus": "0-3"}, "--cpu-only runs no worker and uses no NPUs"),
        ("worker", {"server_url": "gopher://x"}, "--server-url 'gopher://x': expected the GPUStack server's"),
    ],
)
def test_bad_flags_are_refused_naming_the_flag(command: str, given: dict[str, object], message: str) -> None:
    with pytest.raises(InputError) as refused:
        request_from_flags(command, given)  # type: ignore[arg-type]
    assert str(refused.value).startswith(message)
    assert "\n" not in str(refused.value)


def test_recipe_words_are_read_as_the_table_says(tmp_path: Path) -> None:
    assert request_from_recipe(
        ["ascendgen", "gpustack", "server", "--gpustack-version=0.7", "--port=9000", "--npus", "0,1"], tmp_path
    ) == ServerRequest(gpustack_version="0.7", port=9000, npus=(0, 1))
    for words, message in [
        (["server", "--port", "http"], "--port 'http': not a number"),
        (["server", "--cpu-only=yes"], "--cpu-only takes no value"),
        (["server", "--npus"], "--npus needs a value"),
        (["server", "extra"], "unexpected argument 'extra'"),
        (["worker", "--token-from-env"], "--server-url is missing"),
        (["worker", "--server-url", SEED_URL, "--port", "9000"], "unknown option --port"),  # a worker has no port
    ]:
        with pytest.raises(InputError, match=message):
            request_from_recipe(["ascendgen", "gpustack", *words], tmp_path)


def test_a_path_compose_reads_as_written_is_recorded_as_written(compose_v2: None, run: Run, tmp_path: Path) -> None:
    """The header keeps a recipe one line by escaping line breaks only: a no-break space in --models-dir is
    recorded as it is, so that `check` regenerates the same file."""
    models_dir = "/data/my\u00a0models"
    assert run("gpustack", "server", *V07, "--models-dir", models_dir, "--out", str(tmp_path)).exit_code == 0
    text = (tmp_path / "compose.yml").read_text()
    assert f"--models-dir '{models_dir}'\n" in text
    assert run("check", str(tmp_path)).exit_code == 0
    models = next(v for v in only_service(compose_config(tmp_path))["volumes"] if v["target"] == "/models")
    assert models["source"] == models_dir


def test_a_name_with_a_line_break_stays_inside_the_header(run: Run, write: Write, tmp_path: Path) -> None:
    name = "evil\nservices: {}"
    hardware = write("hw.yaml", 'servers:\n  - name: "evil\\nservices: {}"\n    npu_type: 910B4\n    npu_count: 8\n')
    out = tmp_path / "out"
    result = run("gpustack", "server", *V07, "--server", name, "--hardware", str(hardware), "--out", str(out))
    assert result.exit_code == 0, result.stderr
    text = (out / "compose.yml").read_text()
    assert "# GPUStack server with its built-in worker on 910B4 NPUs 0-7 (evil\\nservices: {}), port 8080\n" in text
    assert list(yaml.safe_load(text)["services"]) == ["gpustack"]


# ---- GPUStack 2.x: the layout of GPUStack's v2.2.3 docs, and how it differs from v0.7 --------------------------

# docs/installation/installation.md at v2.2.3, verbatim
V2_SERVER_DOCS = """
sudo docker run -d --name gpustack \\
    --restart unless-stopped \\
    -p 80:80 \\
    --volume gpustack-data:/var/lib/gpustack \\
    gpustack/gpustack
"""
# docs/tutorials/running-deepseek-r1-671b-with-distributed-ascend-mindie.md at v2.2.3, verbatim (the only Ascend
# worker command of the v2.2.3 docs)
V2_WORKER_DOCS = """
sudo docker run -d --name gpustack \\
    --restart unless-stopped \\
    --privileged \\
    --env "ASCEND_VISIBLE_DEVICES=$(sudo ls /dev/davinci* | head -1 | grep -o '[0-9]\\+' || echo "0")" \\
    --network host \\
    --volume /var/run/docker.sock:/var/run/docker.sock \\
    --volume gpustack-data:/var/lib/gpustack \\
    --volume /path/to/your/model:/path/to/your/model \\
    --runtime ascend \\
    gpustack/gpustack \\
    --server-url http://your_gpustack_server_ip_or_hostname \\
    --token your_gpustack_cluster_token
"""


@dataclass
class DocsRun:
    name: str = ""
    restart: str = ""
    options: dict[str, list[str]] = field(default_factory=dict)
    image: str = ""
    args: list[str] = field(default_factory=list)


def parse_docs_run(text: str) -> DocsRun:
    words = shlex.split(text.replace("\\\n", " "))
    assert words[:4] == ["sudo", "docker", "run", "-d"], words[:4]
    parsed = DocsRun()
    rest = iter(words[4:])
    for word in rest:
        if word == "--privileged":
            parsed.options.setdefault(word, []).append("")
        elif word in ("--name", "--restart", "-p", "--env", "--network", "--volume", "--runtime"):
            parsed.options.setdefault(word, []).append(next(rest))
        else:
            assert not word.startswith("-"), word
            parsed.image = word
            parsed.args = list(rest)
    parsed.name, parsed.restart = parsed.options.pop("--name")[0], parsed.options.pop("--restart")[0]
    return parsed


def test_v2_server_is_the_documented_one(compose_v2: None, run: Run, tmp_path: Path) -> None:
    docs = parse_docs_run(V2_SERVER_DOCS)
    result = run("gpustack", "server", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    service = only_service(compose_config(tmp_path))
    # deliberate: the tag is pinned (the docs' untagged image is `latest`, which moves)
    assert docs.image == "gpustack/gpustack" and service["image"] == f"gpustack/gpustack:{PINNED_V2}"
    assert service["container_name"] == docs.name and service["restart"] == docs.restart
    assert docs.options == {"-p": ["80:80"], "--volume": ["gpustack-data:/var/lib/gpustack"]}
    (port,) = service["ports"]
    assert (port["published"], port["target"]) == ("80", 80)
    (data,) = service["volumes"]
    assert (data["type"], data["source"], data["target"]) == ("volume", "gpustack-data", "/var/lib/gpustack")
    # no NPUs, no host network, no privilege, no worker: nothing the docs' server does not have
    for key in ("devices", "network_mode", "ipc", "privileged", "runtime", "command", "environment"):
        assert not service.get(key), key
    assert docs.args == []
    assert "initial_admin_password" in result.stdout + result.stderr
    assert "root on this host" not in result.stdout + result.stderr
    # --port publishes another host port for the same container port
    assert run("gpustack", "server", "--port", "8080", "--out", str(tmp_path / "p")).exit_code == 0
    (port,) = only_service(compose_config(tmp_path / "p"))["ports"]
    assert (port["published"], port["target"]) == ("8080", 80)


def test_v2_worker_is_the_documented_one(compose_v2: None, run: Run, tmp_path: Path) -> None:
    docs = parse_docs_run(V2_WORKER_DOCS)
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token", PLACEHOLDER_TOKEN, "--npus", "4-7",
                 *SEED_MODELS_DIR, "--out", str(tmp_path))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert f"warning: {PRIVILEGE_WARNING}" in " ".join(result.stderr.split())
    text = (tmp_path / "compose.yml").read_text()
    assert PLACEHOLDER_TOKEN not in text and "root on this host" in text
    service = only_service(compose_config(tmp_path))
    assert docs.image == "gpustack/gpustack" and service["image"] == f"gpustack/gpustack:{PINNED_V2}"
    assert service["container_name"] == docs.name and service["restart"] == docs.restart
    assert docs.options["--privileged"] == [""] and service["privileged"] is True
    assert docs.options["--runtime"] == ["ascend"] and service["runtime"] == "ascend"
    assert docs.options["--network"] == ["host"] and service["network_mode"] == "host"
    # the docs' expression picks the first NPU; ours names the NPUs asked for
    assert docs.options["--env"][0].startswith("ASCEND_VISIBLE_DEVICES=")
    assert service["environment"] == {"ASCEND_VISIBLE_DEVICES": "4,5,6,7", "GPUSTACK_TOKEN": PLACEHOLDER_TOKEN}
    mounts = [(v["source"], v["target"]) for v in service["volumes"]]
    documented = [tuple(v.split(":")) for v in docs.options["--volume"]]
    assert (
        documented[:2]
        == mounts[:2]
        == [
            ("/var/run/docker.sock", "/var/run/docker.sock"),
            ("gpustack-data", "/var/lib/gpustack"),
        ]
    )
    # the model directory at its own path, as the docs mount it; deliberate: read-only, as for `plan`
    assert documented[2][0] == documented[2][1] and mounts[2] == ("/data/models", "/data/models")
    assert service["volumes"][2]["read_only"] is True and not service["volumes"][0].get("read_only")
    assert "devices" not in service and "ipc" not in service  # the Ascend Docker Runtime mounts the NPUs
    # deliberate: the token moves from the command line to .env (GPUSTACK_TOKEN, start.py)
    assert docs.args == ["--server-url", "http://your_gpustack_server_ip_or_hostname", "--token",
                         "your_gpustack_cluster_token"]  # fmt: skip
    assert service["command"] == ["--server-url", SEED_URL]
    assert (tmp_path / ".env").read_text() == f"GPUSTACK_TOKEN={PLACEHOLDER_TOKEN}\n"


def test_v07_worker_takes_no_privilege(run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "worker", *V07, "--server-url", SEED_URL, "--token-from-env", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert "root on this host" not in result.stderr + (tmp_path / "compose.yml").read_text()
    ours = raw_service(tmp_path)
    assert "privileged" not in ours and "runtime" not in ours
    assert not any("docker.sock" in v for v in ours["volumes"])


# The content hashes of seed 000's files as ascendgen wrote them before --gpustack-version existed
V07_BODY_HASHES = {
    "gpustack-server": "5e07334ecbc1fc931fb791f9f1ece55ad2b1732de57a2655420546689703e1b8",
    "gpustack-server-cpu": "adbaa00365fc1c0d5621fcb72bde7a71b8002244a8fe5317a947cc1c50c4a29d",
    "gpustack-worker": "14bae850fbb79ee6c14e89db94d7113865c9dd3ff4e9680721137e44a58da696",
}


@pytest.mark.parametrize("example", sorted(V07_BODY_HASHES))
def test_v07_keeps_the_files_it_wrote_before(example: str) -> None:
    text = (EXAMPLES / example / "compose.yml").read_text()
    assert f"# Content hash: sha256:{V07_BODY_HASHES[example]}\n" in text
    body = text.split("# Content hash: ", 1)[1].split("\n", 1)[1]
    assert hashlib.sha256(body.encode()).hexdigest() == V07_BODY_HASHES[example]
    assert "--gpustack-version 0.7" in text.splitlines()[1]


def test_an_old_recipe_without_the_version_drifts_and_says_why(run: Run, tmp_path: Path) -> None:
    """A file written before --gpustack-version ran v0.7; its recipe now means 2.x: `check` fails and says how to
    keep v0.7 (the diff's new header line, or the refusal of a 0.7-only flag)."""
    for example in ("gpustack-worker", "gpustack-server", "gpustack-server-cpu"):
        current = (EXAMPLES / example / "compose.yml").read_text()
        directory = tmp_path / example
        directory.mkdir()
        (directory / "compose.yml").write_text(current.replace(" --gpustack-version 0.7", ""))
        result = run("check", str(directory))
        assert result.exit_code == 1
        assert "--gpustack-version 0.7" in result.stdout + result.stderr
        if example == "gpustack-worker":
            assert "differs from its recipe" in result.stderr
            assert f"+# {V2_NOTE}" in result.stdout
            assert '-    image: "gpustack/gpustack:v0.7.1-npu"' in result.stdout
        else:  # --models-dir / --cpu-only are 0.7's only
            assert "its recipe no longer plans" in result.stderr
        # with the flag, it is up to date again
        (directory / "compose.yml").write_text(current)
        assert run("check", str(directory)).exit_code == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["server", "--cpu-only"], "--cpu-only: the GPUStack 2.x server runs no worker"),
        (["server", "--npus", "0-3", "--models-dir", "/data"], "--npus, --models-dir: the GPUStack 2.x server"),
        (["server", "--server", "atlas-800i-a2"], "--server: the GPUStack 2.x server"),
        (["server", "--image-tag", "v0.7.1"], "--image-tag v0.7.1 is a GPUStack 0.x release"),
        (["server", *V07, "--image-tag", "v2.2.3"], "--image-tag v2.2.3 is not a GPUStack 0.x release"),
        (["worker", "--server-url", SEED_URL, "--token-from-env", "--image-tag", "0.7.1"], "0.x release"),
        (["server", "--gpustack-version", "1"], "--gpustack-version '1': Input should be '2' or '0.7'"),
    ],
)
def test_what_one_layout_cannot_take_is_refused(run: Run, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "out"
    result = run("gpustack", *args, "--out", str(out))
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert message in result.stderr
    assert not out.exists()


def test_v2_recipes_read_back(tmp_path: Path) -> None:
    for request in [
        ServerRequest(port=8080, image_tag="v2.2", bootstrap_password=True),
        WorkerRequest(server_url=SEED_URL, npus=(0, 1), models_dir="/data/m", image_tag="v2.2.2"),
        WorkerRequest(gpustack_version="0.7", server_url=SEED_URL),
    ]:
        command = recipe_command(request)
        assert ("--gpustack-version" in command) == (request.gpustack_version == "0.7")
        assert request_from_recipe(shlex.split(command), tmp_path) == request


def test_the_real_entry_point_has_the_gpustack_commands(tmp_path: Path) -> None:
    """`python -m ascendgen gpustack ...` in a child process, as a user runs it: the sub-command group is on the
    app that `-m` (and the console script, the same main()) starts, not only on what the in-process tests import."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(("GPUSTACK_", "ASCENDGEN_DEBUG"))}
    env.update(PYTHONPATH=str(REPO / "src"), NO_COLOR="1", COLUMNS="200")
    worker = [sys.executable, "-m", "ascendgen", "gpustack", "worker", "--server-url", "http://10.0.0.1:8080",
              "--token", "tok123", "--out", str(tmp_path)]  # fmt: skip
    done = subprocess.run(worker, capture_output=True, text=True, env=env, check=False, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"GPUStack {PINNED_V2} worker on 910B4 NPUs 0-7 (atlas-800i-a2), joining "
                                  "http://10.0.0.1:8080")  # fmt: skip
    assert (tmp_path / ".env").read_text() == "GPUSTACK_TOKEN=tok123\n"
    assert list(yaml.safe_load((tmp_path / "compose.yml").read_text())["services"]) == ["gpustack"]
    assert (tmp_path / "compose.yml").read_text().splitlines()[1] == (
        "# Regenerate (in this directory): ascendgen gpustack worker --server-url http://10.0.0.1:8080 --token-from-env"
    )  # the token is in .env, never in the recipe
    helped = subprocess.run([sys.executable, "-m", "ascendgen", "--help"], capture_output=True, text=True, env=env,
                            check=False, timeout=120)  # fmt: skip
    assert helped.returncode == 0 and "│ gpustack " in helped.stdout


# ---- refusals word for word (the messages are the user's only guide) ------------------------------------------


def refusal(call: Callable[[], object]) -> str:
    with pytest.raises(InputError) as refused:
        call()
    return str(refused.value)


def test_recipes_that_are_not_gpustack_recipes_are_named_whole(tmp_path: Path) -> None:
    for words in (["ascendgen", "gpustack"], ["ascendgen", "plan", "server"], ["ascendgen", "gpustack", "nodes", "x"]):
        assert refusal(lambda words=words: render_recipe(words, tmp_path)) == (
            f"not an 'ascendgen gpustack server|worker' recipe: {shlex.join(words)}"
        )
    # three words are a whole recipe: the server with every default
    assert request_from_recipe(["ascendgen", "gpustack", "server"], tmp_path) == ServerRequest()
    words = ["ascendgen", "gpustack", "server", "--bogus", "x y"]
    assert refusal(lambda: request_from_recipe(words, tmp_path)) == (
        "recipe 'ascendgen gpustack server --bogus 'x y'': unknown option --bogus"
    )
    assert refusal(lambda: request_from_recipe([*words[:3], "x y"], tmp_path)) == (
        "recipe 'ascendgen gpustack server 'x y'': unexpected argument 'x y'"
    )


def test_a_recipe_finds_its_files_through_the_locator_it_is_given(tmp_path: Path) -> None:
    hardware = tmp_path / "elsewhere" / "hw.yaml"
    hardware.parent.mkdir()
    hardware.write_text("servers:\n  - name: fake-host\n    npu_type: 910B4\n    npu_count: 4\n")
    asked: list[tuple[str, str]] = []

    def locate(flag: str, path: str) -> str:
        asked.append((flag, path))
        return str(hardware)

    words = shlex.split("ascendgen gpustack server --gpustack-version 0.7 --server fake-host --hardware hw.yaml")
    text = render_recipe(words, tmp_path, locate)
    assert asked == [("--hardware", "hw.yaml")]
    assert "GPUStack server with its built-in worker on 910B4 NPUs 0-3 (fake-host), port 80" in text


def test_server_url_refusals_and_what_is_kept() -> None:
    for url in ("", "http://a b", "http://10.0.0.1:0", "gopher://x", "http://h:x", "http://10.0.0.1:8080?a=1"):
        assert refusal(lambda url=url: check_server_url(url)) == (
            f"--server-url '{url}': expected the GPUStack server's http(s) URL, e.g. http://172.16.33.106:8080"
        )
    assert check_server_url("http://10.0.0.1:1") == "http://10.0.0.1:1"  # port 1 is a port
    assert check_server_url("http://gpu-X//") == "http://gpu-X"  # only the slashes go


def test_secret_refusals_name_the_flag_and_the_secret() -> None:
    assert refusal(lambda: worker_secrets("", token_from_env=False, env_file={})) == "--token: empty"
    assert refusal(lambda: worker_secrets("a b", token_from_env=False, env_file={})) == (
        "--token: spaces, quotes, '$', '#' and '\\' would be changed by docker compose's .env parser; choose a "
        "token without them"
    )
    assert refusal(lambda: worker_secrets("t", token_from_env=True, env_file={})) == (
        "--token and --token-from-env: give one of them"
    )
    assert worker_secrets("t0k", token_from_env=False, env_file={}) == {"GPUSTACK_TOKEN": "t0k"}
    assert refusal(lambda: worker_secrets(None, token_from_env=False, env_file={}, hint="the UI")) == (
        "the worker needs the server's token: pass --token TOKEN (from the UI), or --token-from-env to set "
        "GPUSTACK_TOKEN when compose starts"
    )

    def bootstrap(password: str | None, generate: bool = False, from_env: bool = False) -> dict[str, str]:
        return bootstrap_secrets(password, generate=generate, from_env=from_env, env_file={}, new_secret=lambda: "new")

    together = "--bootstrap-password, --generate-password and --bootstrap-password-from-env: give one"
    for two in ((lambda: bootstrap("p", generate=True)), (lambda: bootstrap(None, True, True)),
                (lambda: bootstrap("p", from_env=True)), (lambda: bootstrap("p", True, True))):  # fmt: skip
        assert refusal(two) == together
    assert refusal(lambda: bootstrap("p#1")) == (
        "--bootstrap-password: spaces, quotes, '$', '#' and '\\' would be changed by docker compose's .env parser; "
        "choose a password without them"
    )
    assert refusal(lambda: bootstrap("")) == "--bootstrap-password: empty"
    assert bootstrap("pw") == {"GPUSTACK_BOOTSTRAP_PASSWORD": "pw"} and bootstrap(None, generate=True) == {
        "GPUSTACK_BOOTSTRAP_PASSWORD": "new"
    }


def test_npu_refusals_say_what_the_server_has(tmp_path: Path) -> None:
    hardware = load_hardware([])
    assert refusal(lambda: build(ServerRequest(gpustack_version="0.7", npus=(6, 8, 9)), hardware)) == (
        "--npus 6,8-9: atlas-800i-a2 has NPUs 0-7, not 8-9"
    )
    assert refusal(lambda: build(ServerRequest(gpustack_version="0.7", npus=()), hardware)) == ("--npus: no NPUs given")
    assert refusal(lambda: build(ServerRequest(gpustack_version="0.7", server="atlas-800i-a3"), hardware)) == (
        "GPUStack publishes no image for 910C (platform a3); its NPU images are for platforms a2 (-npu), 310p "
        "(-npu-310p)"
    )
    for root in ("/host", "/X"):  # any host_root but / (a path of one letter too)
        rooted = tmp_path / "hw.yaml"
        rooted.write_text(
            f"servers:\n  - name: fake-host\n    npu_type: 910B4\n    npu_count: 8\n    host_root: {root}\n"
        )
        worker = WorkerRequest(server_url=SEED_URL, server="fake-host")
        assert refusal(lambda: build(worker, load_hardware([rooted]))) == (  # noqa: B023
            f"--server fake-host: its host_root ({root}) cannot apply to GPUStack 2.x, whose devices the Ascend "
            "Docker Runtime mounts; use --gpustack-version 0.7, or a profile without it"
        )


def test_a_template_that_declares_no_data_volume_is_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """The guard behind the named volume a `docker run -v gpustack-data:...` deployment keeps its data in."""
    template = (REPO / "templates" / "gpustack.yml.j2").read_text()
    cut = template[: template.index("volumes:\n  {{ svc.data_volume }}")]
    env = jinja2.Environment(loader=jinja2.DictLoader({"gpustack.yml.j2": cut}), undefined=jinja2.StrictUndefined)
    env.filters["q"] = yaml_quote
    monkeypatch.setattr(gpustack, "jinja_environment", lambda: env)
    service = build(ServerRequest(), load_hardware([]))
    with pytest.raises(AscendgenError) as refused:
        render_gpustack(service, regenerate="ascendgen gpustack server")
    assert str(refused.value) == "internal error: the data volume is not declared"
