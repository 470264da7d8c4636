"""API keys stay in .env (0600, git-ignored); the committed compose holds only the variable's name. The key
the container gets (what Compose resolves) and the key `smoke` sends are, byte for byte, the key given; a
key no client could send is refused. Serving on all interfaces without a key is a warning; --host binds one
address."""

from __future__ import annotations

import json
import stat
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from ascendgen.composeconfig import Project, load_compose_config

from helpers import Run


def test_api_key_goes_to_env_file_not_compose(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--api-key", "sk-test-123", "--out", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    compose = (tmp_path / "compose.yml").read_text()
    assert "sk-test-123" not in compose
    assert '      VLLM_API_KEY: "${VLLM_API_KEY:?set VLLM_API_KEY in .env}"\n' in compose
    assert "--api-key-env" in compose  # the recipe says a key is needed, not which
    env = tmp_path / ".env"
    assert env.read_text() == "VLLM_API_KEY=sk-test-123\n"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    assert ".env" in (tmp_path / ".gitignore").read_text().splitlines()
    assert "all interfaces without an API key" not in result.stdout


def test_compose_resolves_the_key_from_env_and_refuses_without_it(run: Run, tmp_path: Path) -> None:
    run("plan", "Qwen3-8B", "--generate-api-key", "--out", str(tmp_path))
    key = (tmp_path / ".env").read_text().strip().split("=", 1)[1]
    assert len(key) >= 32
    config = subprocess.run(
        ["docker", "compose", "config", "--format", "json"], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    (service,) = json.loads(config.stdout)["services"].values()
    assert service["environment"]["VLLM_API_KEY"] == key
    (tmp_path / ".env").unlink()
    missing = subprocess.run(["docker", "compose", "config"], cwd=tmp_path, capture_output=True, text=True)
    assert missing.returncode != 0 and "set VLLM_API_KEY in .env" in missing.stderr


def test_regenerating_keeps_the_key_and_other_env_lines(run: Run, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MY_SETTING=1\n")
    run("plan", "Qwen3-8B", "--api-key", "first", "--out", str(tmp_path))
    assert run("plan", "Qwen3-8B", "--api-key-env", "--out", str(tmp_path)).exit_code == 0
    assert (tmp_path / ".env").read_text() == "MY_SETTING=1\nVLLM_API_KEY=first\n"
    assert (tmp_path / ".gitignore").read_text().count(".env") == 1
    assert run("check", str(tmp_path)).exit_code == 0


def test_open_api_is_a_warning_and_host_binds_locally(run: Run, tmp_path: Path) -> None:
    open_plan = run("plan", "Qwen3-8B", "--dry-run", "--json").json()
    assert any("all interfaces without an API key" in w for w in open_plan["warnings"])
    local = run("plan", "Qwen3-8B", "--host", "127.0.0.1", "--out", str(tmp_path), "--json").json()
    assert not any("all interfaces" in w for w in local["warnings"])
    (service,) = yaml.safe_load((tmp_path / "compose.yml").read_text())["services"].values()
    assert service["command"][service["command"].index("--host") + 1] == "127.0.0.1"
    assert "--host 127.0.0.1" in (tmp_path / "compose.yml").read_text()  # in the recipe too


def test_defaults_are_unprivileged(run: Run, tmp_path: Path) -> None:
    run("plan", "Qwen3-30B-A3B", "--out", str(tmp_path))
    (service,) = yaml.safe_load((tmp_path / "compose.yml").read_text())["services"].values()
    assert "privileged" not in service and "cap_add" not in service
    driver = [v for v in service["volumes"] if "/Ascend/" in v or "dcmi" in v or "npu-smi" in v or "install" in v]
    assert len(driver) == 5 and all(v.endswith(":ro") for v in driver)


def test_bad_host_is_refused(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--host", "0.0.0.0; rm -rf /", "--out", str(tmp_path))
    assert result.exit_code == 2 and "--host" in result.stderr
    assert list(tmp_path.iterdir()) == []


# ---- any key a client can send reaches the container unchanged ------------------------------------------------

NASTY_KEYS = [
    "sk-a$b c", "sk-a$$b", "$VLLM_API_KEY", "${HOME}", "${X:-y}", "a#b", "a #b", "#start", "it's", "'quoted'",
    '"double"', "back\\slash", "end\\", "\\'", "\\$", "\\n", "mid  spaces", "`id`", "$(id)", "a=b", "x: y",
    "export k", "!&*()[]{}<>|;~^%@?+,./", "\\0101",
]  # fmt: skip


def compose_key(directory: Path) -> str | None:
    """VLLM_API_KEY as Compose resolves it for the (first) service: what the container gets."""
    (service, *_) = load_compose_config(Project(directory=directory, file=None)).services
    return service.api_key


@pytest.fixture
def no_shell_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VLLM_API_KEY", raising=False)  # compose would take it over .env's


@pytest.mark.parametrize("key", NASTY_KEYS)
def test_the_container_gets_the_key_as_typed(run: Run, tmp_path: Path, no_shell_key: None, key: str) -> None:
    assert run("plan", "Qwen3-8B", "--api-key", key, "--out", str(tmp_path)).exit_code == 0
    assert compose_key(tmp_path) == key
    assert key not in (tmp_path / "compose.yml").read_text()


@settings(max_examples=25, deadline=None)
@given(key=st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30).map(str.strip))
def test_any_printable_ascii_key_reaches_the_container_unchanged(key: str) -> None:
    from ascendgen.cli.app import main

    if not key:
        return
    with TemporaryDirectory(prefix="ascendgen-key-") as name:
        out = Path(name)
        main(["plan", "Qwen3-8B", "--api-key", key, "--out", str(out)])  # a refusal would exit
        assert compose_key(out) == key


def test_multi_node_dirs_all_get_the_key(run: Run, tmp_path: Path, no_shell_key: None) -> None:
    key = "sk '$x' \\ #y"
    nodes = ["--node", "10.0.0.1:eth0", "--node", "10.0.0.2:eth0"]
    assert run("plan", "Qwen3-32B", *nodes, "--api-key", key, "--out", str(tmp_path)).exit_code == 0
    assert compose_key(tmp_path / "head") == key


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("", "--api-key is empty"),
        ("   ", "--api-key is only spaces"),
        ("sk\nx", "printable ASCII"),
        ("sk\tx", "printable ASCII"),
        ("sk-é", "printable ASCII"),
        (" sk", "spaces at its start or end"),
        ("sk ", "spaces at its start or end"),
    ],
)
def test_a_key_no_client_could_send_is_refused(run: Run, tmp_path: Path, key: str, message: str) -> None:
    result = run("plan", "Qwen3-8B", "--api-key", key, "--out", str(tmp_path))
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_api_key_and_generate_together_are_refused(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--api-key", "k", "--generate-api-key", "--out", str(tmp_path))
    assert result.exit_code == 2 and "--api-key and --generate-api-key" in result.stderr
    assert list(tmp_path.iterdir()) == []


# ---- smoke sends the key the container has ---------------------------------------------------------------------


@pytest.fixture
def fake_vllm() -> Iterator[tuple[int, list[str | None]]]:
    """A stand-in for vLLM's chat endpoint on a free local port; records each request's Authorization."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(self.headers.get("Authorization"))
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps({"choices": [{"message": {"content": "hi"}}], "usage": {"completion_tokens": 1}})
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_smoke_sends_the_key_from_env(
    run: Run, tmp_path: Path, no_shell_key: None, fake_vllm: tuple[int, list[str | None]]
) -> None:
    port, seen = fake_vllm
    key = "sk-a$b c#d'e\"f\\g"
    assert run("plan", "Qwen3-8B", "--api-key", key, "--port", str(port), "--out", str(tmp_path)).exit_code == 0
    result = run("smoke", str(tmp_path))
    assert result.exit_code == 0, result.stderr
    assert seen == [f"Bearer {key}"]


def test_smoke_sends_what_compose_gives_the_container_when_the_shell_overrides(
    run: Run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_vllm: tuple[int, list[str | None]]
) -> None:
    port, seen = fake_vllm
    planned = run("plan", "Qwen3-8B", "--api-key", "in-env-file", "--port", str(port), "--out", str(tmp_path))
    assert planned.exit_code == 0
    monkeypatch.setenv("VLLM_API_KEY", "from shell $x")  # compose's interpolation prefers the shell over .env
    assert compose_key(tmp_path) == "from shell $x"
    assert run("smoke", str(tmp_path)).exit_code == 0
    assert seen == ["Bearer from shell $x"]
