"""Committed output: `ascendgen check` finds drift and hand edits; plan never overwrites a hand edit
without --force; an unrelated catalog change changes no bytes."""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from helpers import REPO, Result, tiny_model_entry

Run = Callable[..., Result]
Write = Callable[[str, str], Path]


@pytest.fixture
def deployed(run: Run, tmp_path: Path) -> Path:
    out = tmp_path / "deploy"
    assert run("plan", "Qwen3-8B", "--out", str(out)).exit_code == 0
    return out


def test_fresh_output_is_up_to_date(run: Run, deployed: Path) -> None:
    result = run("check", str(deployed))
    assert result.exit_code == 0
    assert "up to date" in result.stderr


def test_hand_edit_is_reported_with_a_diff(run: Run, deployed: Path) -> None:
    compose = deployed / "compose.yml"
    compose.write_text(compose.read_text().replace('"--max-model-len", "40960"', '"--max-model-len", "8192"'))
    result = run("check", str(compose))
    assert result.exit_code == 1
    assert "edited by hand since ascendgen wrote it" in result.stderr
    assert '-      "--max-model-len", "8192"' in result.stdout
    assert '+      "--max-model-len", "40960"' in result.stdout


def test_catalog_change_is_drift(run: Run, write: Write, tmp_path: Path) -> None:
    catalog = write("mine.yaml", "models:\n  - name: Qwen3-8B\n    served_name: qwen3\n")
    out = tmp_path / "deploy"
    assert run("plan", "Qwen3-8B", "--catalog", str(catalog), "--out", str(out)).exit_code == 0
    assert "--catalog ../mine.yaml" in (out / "compose.yml").read_text()  # relative to the compose file
    assert run("check", str(out)).exit_code == 0
    catalog.write_text("models:\n  - name: Qwen3-8B\n    served_name: qwen3-8b\n")
    result = run("check", str(out))
    assert result.exit_code == 1
    assert "differs from its recipe" in result.stderr
    assert '+      "--served-model-name", "qwen3-8b"' in result.stdout


def test_unrelated_catalog_change_changes_no_bytes(run: Run, write: Write, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    run("plan", "Qwen3-8B", "--out", str(plain))
    # another model, and a field of Qwen3-8B set to the value it already has
    extra = write("extra.yaml", "models:\n  - name: Qwen3-8B\n    num_layers: 36\n" + tiny_model_entry("Tiny"))
    with_extra = tmp_path / "with-extra"
    run("plan", "Qwen3-8B", "--catalog", str(extra), "--out", str(with_extra))
    body = (plain / "compose.yml").read_text().split("services:", 1)[1]
    assert (with_extra / "compose.yml").read_text().split("services:", 1)[1] == body


def test_plan_refuses_to_overwrite_a_hand_edit(run: Run, deployed: Path) -> None:
    compose = deployed / "compose.yml"
    edited = compose.read_text().replace("shm_size: 1g", "shm_size: 2g")
    compose.write_text(edited)
    result = run("plan", "Qwen3-8B", "--out", str(deployed))
    assert result.exit_code == 1
    assert "edited by hand" in result.stderr and "compose.override.yml" in result.stderr
    assert compose.read_text() == edited
    assert run("plan", "Qwen3-8B", "--out", str(deployed), "--force").exit_code == 0
    assert "shm_size: 1g" in compose.read_text()


def test_plan_refuses_to_overwrite_a_file_it_did_not_write(run: Run, tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services:\n  mine:\n    image: busybox\n")
    result = run("plan", "Qwen3-8B", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "not written by ascendgen" in result.stderr
    assert (tmp_path / "compose.yml").read_text() == "services:\n  mine:\n    image: busybox\n"


def test_regenerating_unchanged_output_is_allowed(run: Run, deployed: Path) -> None:
    before = (deployed / "compose.yml").read_bytes()
    assert run("plan", "Qwen3-8B", "--out", str(deployed)).exit_code == 0
    assert (deployed / "compose.yml").read_bytes() == before


def test_a_newer_version_alone_is_not_drift(run: Run, deployed: Path) -> None:
    compose = deployed / "compose.yml"
    first, rest = compose.read_text().split("\n", 1)
    compose.write_text(first.replace("ascendgen 0.", "ascendgen 0.0.") + "\n" + rest)
    assert run("check", str(deployed)).exit_code == 0


def test_check_without_a_recipe(run: Run, tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services: {}\n")
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert "not written by ascendgen" in result.stderr


def test_pre_commit_hook_and_ci_example_run_check(run: Run) -> None:
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
    assert hook["entry"] == "ascendgen check" and hook["pass_filenames"] is True
    examples = sorted(str(p) for p in (REPO / "examples").glob("**/compose.yml"))
    assert all(re.search(hook["files"], path) for path in examples)
    # what pre-commit runs: the entry with the staged file names appended
    assert run(*shlex.split(hook["entry"])[1:], *examples).exit_code == 0

    workflow = yaml.safe_load((REPO / "examples/ci/github-actions-check.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    assert any("ascendgen check" in step.get("run", "") for step in steps)
