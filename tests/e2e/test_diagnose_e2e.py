"""`ascendgen diagnose SERVICE` on a real Docker Engine: the whole log of a service's container, read through
the docker SDK, against the stand-in vllm-ascend image on a fake NPU host (tests/e2e/conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Callable

from deployment import Deployment
from helpers import Run

Deploy = Callable[..., Deployment]


def failed(run: Run, deploy: Deploy, mode: str) -> Deployment:
    d = deploy("Qwen3-8B")
    d.override(f"services:\n  {d.service}:\n    environment:\n      STANDIN_FAIL: {mode}\n")
    assert run("up", str(d.directory), "--timeout", "60").exit_code == 1
    return d


def test_diagnose_a_failed_service(run: Run, deploy: Deploy) -> None:
    d = failed(run, deploy, "oom")
    result = run("diagnose", d.service, "--dir", str(d.directory), "--json")
    assert result.exit_code == 0, result.stderr
    found = json.loads(result.stdout)
    assert found["kind"] == "oom_loading" and "NPU out of memory" in found["evidence"]
    assert found["last_errors"] == [] and found["truncated"] is False
    # the only service of the compose file when none is named, as text
    text = run("diagnose", "--dir", str(d.directory))
    assert text.exit_code == 0 and "cause (oom_loading): an NPU ran out of memory" in text.stdout
    # -f names the compose file instead of its directory
    by_file = run("diagnose", d.service, "-f", str(d.directory / "compose.yml"))
    assert by_file.exit_code == 0 and "(oom_loading)" in by_file.stdout


def test_a_failure_no_rule_knows(run: Run, deploy: Deploy) -> None:
    # the stand-in's restart loop prints only vLLM's generic "EngineCore failed to start" echoes
    d = failed(run, deploy, "crashloop")
    result = run("diagnose", d.service, "--dir", str(d.directory), "--json")
    assert result.exit_code == 1
    found = json.loads(result.stdout)
    assert found["kind"] is None
    assert any("Engine core initialization failed" in line for line in found["last_errors"])
    assert "no known cause in the log of" in result.stderr


def test_a_service_never_started(run: Run, deploy: Deploy) -> None:
    d = deploy("Qwen3-8B")
    result = run("diagnose", d.service, "--dir", str(d.directory))
    assert result.exit_code == 1
    assert f"{d.service} has no container" in result.stderr
