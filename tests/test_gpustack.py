"""`ascendgen gpustack server|worker` run as a user runs them: the files pass Compose v2's own parser and
read back as intended, agree with seed 000's `docker run` lines (tests/seed_compose/gpustack-*.txt) except
for the deliberate improvements (a pinned image tag instead of `latest-npu`, driver and models mounts
read-only, the token in .env), and never hold the worker token or the admin password."""

from __future__ import annotations

import json
import os
import shlex
import stat
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from ascendgen.cli import gpustack as gpustack_cli
from ascendgen.errors import InputError
from ascendgen.gpustack import TOKEN_HINT, check_server_url

from helpers import REPO, Result

Run = Callable[..., Result]
Write = Callable[[str, str], Path]

SEEDS = Path(__file__).parent / "seed_compose"
EXAMPLES = REPO / "examples"
SEED_URL = "http://172.16.33.106:8080"
# A stand-in, never a real token: the seed's own token is read from the fixture where it is needed.
PLACEHOLDER_TOKEN = "0123456789abcdef0123456789abcdef"
SEED_MODELS_DIR = ["--models-dir", "/data/models"]  # seed 000's host directory; ascendgen's default is /models
PINNED = "v0.7.1"  # the last GPUStack release with -npu images (gpustack.py: DEFAULT_IMAGE_TAG)
DRIVER_PATHS = {
    "/usr/local/dcmi",
    "/usr/local/bin/npu-smi",
    "/usr/local/Ascend/driver/lib64/",
    "/usr/local/Ascend/driver/version.info",
    "/etc/ascend_install.info",
}


@pytest.fixture(scope="module")
def compose_v2() -> None:
    done = subprocess.run(["docker", "compose", "version", "--short"], capture_output=True, text=True, check=False)
    if done.returncode != 0 or not done.stdout.strip().lstrip("v").startswith("2"):
        pytest.fail("docker compose v2 is missing: run scripts/install-test-deps.sh (the README's test command does)")


def compose_config(directory: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("GPUSTACK_")}
    done = subprocess.run(
        ["docker", "compose", "config", "--format", "json"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        env={**environ, **(env or {})},
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def only_service(config: dict[str, Any]) -> dict[str, Any]:
    (service,) = config["services"].values()
    return service


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
    result = run("gpustack", "server", "--npus", "0-7", "--port", "8080", *SEED_MODELS_DIR, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    service = check_matches_seed(tmp_path, seed)
    assert service["command"] == seed.args == ["--port", "8080"]
    assert "environment" not in service
    assert not (tmp_path / ".env").exists()


def test_worker_matches_seed_with_the_token_in_env_file(compose_v2: None, run: Run, tmp_path: Path) -> None:
    seed = parse_docker_run(SEEDS / "gpustack-worker.txt")
    seed_token = seed.args[seed.args.index("--token") + 1]
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token", seed_token, *SEED_MODELS_DIR,
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
    result = run("gpustack", "server", "--cpu-only", "--out", str(tmp_path))
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
    assert run("gpustack", "server", "--out", str(tmp_path / "gs")).exit_code == 0
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
    ("tag", "image"), [("latest", "gpustack/gpustack:latest-npu"), ("v0.7.0", "gpustack/gpustack:v0.7.0-npu")]
)
def test_another_release_can_be_named(run: Run, tmp_path: Path, tag: str, image: str) -> None:
    assert run("gpustack", "server", "--image-tag", tag, "--out", str(tmp_path)).exit_code == 0
    assert raw_service(tmp_path)["image"] == image
    assert f"--image-tag {tag}" in (tmp_path / "compose.yml").read_text()  # the recipe keeps it


def test_cpu_only_takes_no_npus(run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "server", "--cpu-only", "--npus", "0-3", "--out", str(tmp_path))
    assert result.exit_code == 2
    assert "--cpu-only" in result.stderr
    assert not tmp_path.joinpath("compose.yml").exists()


def test_missing_token_is_refused_with_how_to_get_it(run: Run, tmp_path: Path) -> None:
    out = tmp_path / "worker"
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--out", str(out))
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert TOKEN_HINT in result.stderr and "--token" in result.stderr
    assert not out.exists()


def test_token_already_in_env_file_is_used(compose_v2: None, run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"OTHER=1\nGPUSTACK_TOKEN={PLACEHOLDER_TOKEN}\n")
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / ".env").read_text() == f"OTHER=1\nGPUSTACK_TOKEN={PLACEHOLDER_TOKEN}\n"
    # an existing .env is tightened to 0600 and git-ignored too
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()
    assert only_service(compose_config(tmp_path))["environment"] == {"GPUSTACK_TOKEN": PLACEHOLDER_TOKEN}


def test_token_from_env_writes_no_secret(compose_v2: None, run: Run, tmp_path: Path) -> None:
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token-from-env", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["compose.yml"]
    done = subprocess.run(["docker", "compose", "config", "-q"], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode != 0 and "GPUSTACK_TOKEN" in done.stderr  # compose refuses to start without it
    service = only_service(compose_config(tmp_path, {"GPUSTACK_TOKEN": PLACEHOLDER_TOKEN}))
    assert service["environment"] == {"GPUSTACK_TOKEN": PLACEHOLDER_TOKEN}


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
            ["server", "--npus", "0-3"],
            ["server", "--cpu-only"],
            ["worker", "--server-url", SEED_URL, "--token", PLACEHOLDER_TOKEN],
        ):
            out = tmp_path / name / args[0] / str(len(args))
            assert run("gpustack", *args, "--out", str(out)).exit_code == 0
    for first in sorted((tmp_path / "a").rglob("compose.yml")):
        second = tmp_path / "b" / first.relative_to(tmp_path / "a")
        assert first.read_bytes() == second.read_bytes()
    # and again over its own output: unchanged
    out = tmp_path / "a" / "server" / "3"
    before = (out / "compose.yml").read_bytes()
    assert run("gpustack", "server", "--npus", "0-3", "--out", str(out)).exit_code == 0
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
    assert gpustack_cli.render_recipe(recipe, first) == text


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
    result = run("gpustack", "worker", "--server-url", SEED_URL, "--token-from-env", "--npus", "4-7",
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
    assert gpustack_cli.render_recipe(shlex.split(text.splitlines()[1].split(": ", 1)[1]), out) == text

    duo = run("gpustack", "server", "--server", "atlas-300i-duo", "--out", str(tmp_path / "duo"))
    assert duo.exit_code == 0, duo.stderr
    assert raw_service(tmp_path / "duo")["image"] == f"gpustack/gpustack:{PINNED}-npu-310p"

    a3 = run("gpustack", "server", "--server", "atlas-800i-a3", "--out", str(tmp_path / "a3"))
    assert a3.exit_code == 2 and "no image" in a3.stderr


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
    result = run("gpustack", "server", *args, "--out", str(tmp_path))
    assert result.exit_code == 2, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not any(tmp_path.iterdir())


def test_hostile_models_dir_reads_back_exactly(compose_v2: None, run: Run, tmp_path: Path) -> None:
    models_dir = "/data/my models/$HOME #x [y] {z} 模型"
    result = run("gpustack", "server", "--models-dir", models_dir, "--image-tag", "v0.7.1", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    service = only_service(compose_config(tmp_path))
    models = next(v for v in service["volumes"] if v["target"] == "/models")
    assert models["source"] == models_dir.replace("$", "$$")  # `config` prints a literal `$` as `$$`
    assert service["image"] == "gpustack/gpustack:v0.7.1-npu"


def test_hand_edits_are_not_overwritten(run: Run, tmp_path: Path) -> None:
    assert run("gpustack", "server", "--out", str(tmp_path)).exit_code == 0
    compose = tmp_path / "compose.yml"
    compose.write_text(compose.read_text().replace('"--port", "8080"', '"--port", "9090"'))
    refused = run("gpustack", "server", "--out", str(tmp_path))
    assert refused.exit_code == 1 and "edited by hand" in refused.stderr
    assert '"9090"' in compose.read_text()
    assert run("gpustack", "server", "--out", str(tmp_path), "--force").exit_code == 0
    assert '"8080"' in compose.read_text()


@pytest.mark.parametrize("command", ["server", "worker"])
def test_help_has_an_example(run: Run, command: str) -> None:
    result = run("gpustack", command, "--help")
    assert result.exit_code == 0
    assert f"Example: ascendgen gpustack {command}" in result.stdout


# ---- examples/gpustack-*: committed output, regenerated by its header's recipe --------------------------------

GPUSTACK_EXAMPLES = ["gpustack-server", "gpustack-server-cpu", "gpustack-worker"]


@pytest.mark.parametrize("example", GPUSTACK_EXAMPLES)
def test_example_is_what_its_recipe_writes(example: str) -> None:
    directory = EXAMPLES / example
    text = (directory / "compose.yml").read_text()
    line = next(line for line in text.splitlines() if line.startswith("# Regenerate (in this directory): "))
    assert gpustack_cli.render_recipe(shlex.split(line.split(": ", 1)[1]), directory) == text


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
        gpustack_cli.render_recipe(shlex.split(recipe), tmp_path)


def test_the_real_entry_point_has_the_gpustack_commands(tmp_path: Path) -> None:
    """`python -m ascendgen gpustack ...` in a child process, as a user runs it: the sub-command group is
    registered on the app the console script and `-m` start, not only on what the in-process tests import."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "NO_COLOR": "1"}
    env.pop("GPUSTACK_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "ascendgen", "gpustack", "worker", "--server-url", "http://10.0.0.1:8080",
         "--token", "tok123", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    compose = yaml.safe_load((tmp_path / "compose.yml").read_text())
    assert list(compose["services"]) == ["gpustack"]
    assert (tmp_path / ".env").read_text() == "GPUSTACK_TOKEN=tok123\n"
    helped = subprocess.run([sys.executable, "-m", "ascendgen", "--help"], capture_output=True, text=True, env=env,
                            check=False)  # fmt: skip
    assert helped.returncode == 0 and "gpustack" in helped.stdout
