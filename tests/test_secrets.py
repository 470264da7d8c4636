"""API keys stay in .env (0600, git-ignored); the committed compose holds only the variable's name.
Serving on all interfaces without a key is a warning; --host binds one address."""

from __future__ import annotations

import json
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import yaml

from helpers import Result

Run = Callable[..., Result]


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
