"""Committed output: `ascendgen check` finds drift and hand edits; plan never overwrites a hand edit
without --force; an unrelated catalog change changes no bytes."""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from ascendgen.errors import InputError
from ascendgen.generated import check_drift, compose_targets, confine, recipe_file, recipe_root
from ascendgen.render import with_header

from helpers import REPO, Run, Write, bounded_ascendgen, git_repository, tiny_model_entry


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
    git_repository(tmp_path)
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


# ------------------------------------------------------------------- what check reads, and from where


def set_recipe(compose: Path, recipe: str) -> None:
    """Edit the recipe line of a compose file's header (the body, and so its hash, stay)."""
    lines = compose.read_text().split("\n")
    assert lines[1].startswith("# Regenerate (in this directory): ")
    lines[1] = f"# Regenerate (in this directory): {recipe}"
    compose.write_text("\n".join(lines))


def test_check_reports_a_binary_compose_file_in_one_line(run: Run, tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe" * 100)
    result = run("check", str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == f"error: {tmp_path / 'compose.yml'}: not a text file (it is not UTF-8)"
    assert "unexpected" not in result.stderr


def test_check_refuses_a_fifo_or_a_huge_compose_file(run: Run, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "compose.yml")  # opened for reading, it would block until a writer came
    fifo = bounded_ascendgen("check", str(tmp_path))
    assert fifo.returncode == 1
    assert fifo.stderr.splitlines()[0] == (
        f"error: {tmp_path / 'compose.yml'}: not a regular file (a device, FIFO or socket); give a file"
    )
    huge = tmp_path / "huge" / "compose.yml"
    huge.parent.mkdir()
    with huge.open("wb") as handle:
        handle.truncate(2 * 1024 * 1024)
    result = run("check", str(huge))
    assert result.exit_code == 1
    assert "compose.yml: larger than 1 MiB, the most ascendgen reads from an input file" in result.stderr


def test_plan_refuses_to_overwrite_a_fifo_or_a_binary_file(run: Run, tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "compose.yml")
    fifo = bounded_ascendgen("plan", "Qwen3-8B", "--out", str(tmp_path))
    assert fifo.returncode == 2  # refused before anything is opened: the write path checks every target first
    assert fifo.stderr == f"error: {tmp_path / 'compose.yml'} is not a regular file\n"
    (tmp_path / "compose.yml").unlink()
    (tmp_path / "compose.yml").write_bytes(b"\xff\xfe\x00binary")
    result = run("plan", "Qwen3-8B", "--out", str(tmp_path))
    assert result.exit_code == 1
    assert "compose.yml exists and is not a compose file ascendgen wrote (not a text file" in result.stderr
    assert (tmp_path / "compose.yml").read_bytes() == b"\xff\xfe\x00binary"


SECRET = "root:$6$hunter2SECRETsalt$hashhashhash:19000:0:99999:7:::"


@pytest.fixture
def repo_with_deploy(run: Run, tmp_path: Path) -> tuple[Path, Path]:
    """A git repository with a compose file under deploy/, and a secret-looking file outside it."""
    repo = git_repository(tmp_path / "repo")
    assert run("plan", "Qwen3-8B", "--out", str(repo / "deploy")).exit_code == 0
    secret = tmp_path / "shadow"
    secret.write_text(f"{SECRET}\ndaemon:*:19000:0:99999:7:::\n")
    return repo / "deploy" / "compose.yml", secret


@pytest.mark.parametrize("flag", ["--catalog", "--hardware"])
def test_check_refuses_a_recipe_that_leaves_the_repository(
    run: Run, repo_with_deploy: tuple[Path, Path], flag: str
) -> None:
    compose, _ = repo_with_deploy
    set_recipe(compose, f"ascendgen plan Qwen3-8B {flag} ../../shadow")
    result = run("check", str(compose))
    assert result.exit_code == 1
    root = compose.parent.parent.resolve()
    assert f"{flag} ../../shadow: outside {root}, where check reads the recipe's files" in result.stderr
    assert "--allow-outside" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr
    # with --allow-outside it is read, and what it is not (YAML of ours) is said without quoting it
    result = run("check", "--allow-outside", str(compose))
    assert result.exit_code == 1
    assert f"{compose.parent / '../../shadow'}:1: unknown top-level key" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_check_refuses_an_absolute_path_in_a_recipe(run: Run, repo_with_deploy: tuple[Path, Path]) -> None:
    compose, secret = repo_with_deploy
    inside = compose.parent.parent / "mine.yaml"
    inside.write_text("models: []\n")
    for target in (secret, inside, Path("/dev/zero")):
        set_recipe(compose, f"ascendgen plan Qwen3-8B --catalog {target}")
        result = run("check", str(compose))
        assert result.exit_code == 1
        assert f"--catalog {target}: the recipe names an absolute path" in result.stderr, result.stderr
        assert "--allow-outside" in result.stderr
    result = run("check", "--allow-outside", str(compose))  # /dev/zero: read only if a regular file
    assert "/dev/zero: not a regular file" in result.stderr
    set_recipe(compose, f"ascendgen plan Qwen3-8B --catalog {inside}")
    result = run("check", "--allow-outside", str(compose))
    assert result.exit_code == 1
    assert "differs from its recipe" in result.stderr  # read and planned: only the recorded path differs
    assert "+# Regenerate (in this directory): ascendgen plan Qwen3-8B --catalog ../mine.yaml" in result.stdout


def test_check_refuses_a_symbolic_link_out_of_the_repository(run: Run, repo_with_deploy: tuple[Path, Path]) -> None:
    compose, secret = repo_with_deploy
    (compose.parent / "catalog.yaml").symlink_to(secret)
    set_recipe(compose, "ascendgen plan Qwen3-8B --catalog catalog.yaml")
    result = run("check", str(compose))
    assert result.exit_code == 1
    assert "--catalog catalog.yaml: outside" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_check_refuses_the_files_a_deployment_file_lists_outside(
    run: Run, write: Write, repo_with_deploy: tuple[Path, Path]
) -> None:
    compose, secret = repo_with_deploy
    repo = compose.parent.parent
    write("repo/ascendgen.yaml", f"catalogs: [{secret}]\ninstances:\n  - model: Qwen3-8B\n")
    set_recipe(compose, "ascendgen plan -f ../ascendgen.yaml")
    result = run("check", str(compose))
    assert result.exit_code == 1
    assert f"its recipe no longer plans: ../ascendgen.yaml: {secret}: outside {repo.resolve()}" in result.stderr
    assert "hunter2" not in result.stdout + result.stderr


def test_check_reads_inside_the_repository_and_outside_with_allow_outside(
    run: Run, write: Write, tmp_path: Path
) -> None:
    """Without a git repository the recipe reads only beside the compose file; a repository widens that to
    all of it; --allow-outside to anywhere."""
    catalog = write("catalogs/mine.yaml", "models:\n  - name: Qwen3-8B\n    served_name: qwen3\n")
    out = tmp_path / "deploy"
    assert run("plan", "Qwen3-8B", "--catalog", str(catalog), "--out", str(out)).exit_code == 0
    result = run("check", str(out))
    assert result.exit_code == 1
    assert f"--catalog ../catalogs/mine.yaml: outside {out.resolve()}" in result.stderr
    assert run("check", "--allow-outside", str(out)).exit_code == 0
    git_repository(tmp_path)
    assert run("check", str(out)).exit_code == 0


def test_check_confines_a_gpustack_recipe_too(run: Run, tmp_path: Path) -> None:
    repo = git_repository(tmp_path / "repo")
    assert run("gpustack", "server", "--gpustack-version", "0.7", "--cpu-only", "--out", str(repo)).exit_code == 0
    set_recipe(
        repo / "compose.yml", "ascendgen gpustack server --gpustack-version 0.7 --cpu-only --hardware ../hw.yaml"
    )
    result = run("check", str(repo))
    assert result.exit_code == 1
    assert "--hardware ../hw.yaml: outside" in result.stderr


def test_check_of_a_multi_node_directory_checks_every_node(run: Run, tmp_path: Path) -> None:
    nodes = ["--node", "192.168.0.147:enp1s0", "--node", "192.168.0.35:enp1s0", "--node", "192.168.0.36:enp1s0"]
    out = tmp_path / "cluster"
    assert (
        run("plan", "Qwen3-235B-A22B", *nodes, "--layout", "tp-pp", "--npu-type", "910B3", "--out", str(out)).exit_code
        == 0
    )
    assert not (out / "compose.yml").exists()
    result = run("check", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        f"{out / node / 'compose.yml'}: up to date" for node in ("head", "worker-1", "worker-2")
    ]
    worker = out / "worker-2" / "compose.yml"
    worker.write_text(worker.read_text().replace("--block", "--blok"))
    result = run("check", str(out))
    assert result.exit_code == 1
    assert f"error: {worker}: edited by hand since ascendgen wrote it" in result.stderr


def test_one_check_holds_each_file_to_its_own_catalog(run: Run, write: Write, tmp_path: Path) -> None:
    # the validated catalog is kept between the files of one run (yamlfile.load_merged_sections): two recipes
    # naming catalogs of the same name, size and model must still each be planned with their own, and a catalog
    # rewritten in place (same size, same inode) must be read again
    git_repository(tmp_path)
    outs = []
    for name in ("a", "b"):
        catalog = write(f"{name}/catalog.yaml", f"models:\n  - name: Qwen3-8B\n    served_name: qwen3-{name}\n")
        outs.append(tmp_path / name / "deploy")
        assert run("plan", "Qwen3-8B", "--catalog", str(catalog), "--out", str(outs[-1])).exit_code == 0
    assert '"--served-model-name", "qwen3-b"' in (outs[1] / "compose.yml").read_text()
    result = run("check", *map(str, outs))
    assert result.exit_code == 0, result.stdout
    assert result.stderr.splitlines() == [f"{out / 'compose.yml'}: up to date" for out in outs]
    catalog_b = tmp_path / "b" / "catalog.yaml"
    inode = catalog_b.stat().st_ino
    catalog_b.write_text(catalog_b.read_text().replace("qwen3-b", "qwen3-c"))
    assert catalog_b.stat().st_ino == inode
    result = run("check", *map(str, outs))
    assert result.exit_code == 1
    assert f"{outs[0] / 'compose.yml'}: up to date" in result.stderr
    assert f"{outs[1] / 'compose.yml'}: differs from its recipe" in result.stderr
    assert '+      "--served-model-name", "qwen3-c"' in result.stdout


# ---- check_drift and its helpers, called directly with a stand-in renderer -----------------------------------

HEADER = "# Generated by ascendgen 9.9.9. Keep local changes in compose.override.yml, not here."
Renderer = Callable[[list[str], Path, Path | None], dict[str, str]]


def written(text: str, recipe: str = "ascendgen plan Qwen3-8B", *, parent: bool = False) -> str:
    """A file as ascendgen writes it: header, recipe line, hash, body."""
    where = "# Regenerate (in the parent directory): " if parent else "# Regenerate (in this directory): "
    return with_header([HEADER, where + recipe], text)


def never(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
    raise AssertionError("not rendered")


def test_check_drift_results_exactly(tmp_path: Path) -> None:
    body = "services: {}\n"
    (tmp_path / "compose.yml").write_text(written(body))
    calls: list[tuple[list[str], Path, Path | None]] = []

    def same(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
        calls.append((words, base, root))
        return {".": written(body).replace("9.9.9", "1.0.0")}  # only the version differs: not drift

    ok = check_drift(tmp_path, same)
    assert (ok.path, ok.problem, ok.diff, ok.ok) == (tmp_path / "compose.yml", None, "", True)
    assert calls == [(["ascendgen", "plan", "Qwen3-8B"], tmp_path, tmp_path.resolve())]
    assert check_drift(tmp_path, same, allow_outside=True).ok and calls[-1][2] is None

    def other(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
        return {".": written("services: {x: {}}\n")}

    drift = check_drift(tmp_path / "compose.yml", other)
    assert (drift.path, drift.problem, drift.ok) == (tmp_path / "compose.yml", "differs from its recipe", False)
    assert drift.diff.splitlines()[:2] == [
        f"--- {tmp_path / 'compose.yml'} (committed)",
        f"+++ {tmp_path / 'compose.yml'} (what its recipe gives today)",
    ]
    assert drift.diff.endswith("+services: {x: {}}\n") and "\n-services: {}\n" in drift.diff

    (tmp_path / "compose.yml").write_text(written(body) + "# mine\n")  # an edit: the hash no longer matches
    edited = check_drift(tmp_path, same)
    assert (edited.problem, edited.ok) == ("edited by hand since ascendgen wrote it", False)
    assert edited.diff.endswith("-# mine\n")


def test_only_the_version_in_the_first_line_is_not_drift(tmp_path: Path) -> None:
    body = "services: {}\n"
    (tmp_path / "compose.yml").write_text(written(body))

    def renders(text: str) -> Renderer:
        return lambda words, base, root: {".": text}

    assert check_drift(tmp_path, renders(written(body).replace("ascendgen 9.9.9.", "ascendgen 10.0.0rc1."))).ok
    # anything else in the first line, or the version elsewhere, is drift
    assert not check_drift(tmp_path, renders(written(body).replace("Keep local", "Keep all local"))).ok
    assert not check_drift(tmp_path, renders(written(body).replace("ascendgen 9.9.9.", "ascendgen  9.9.9."))).ok
    (tmp_path / "compose.yml").write_text(written("image: ascendgen 9.9.9.\n"))
    assert not check_drift(tmp_path, renders(written("image: ascendgen 1.0.0.\n"))).ok


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("services: {}\n", "not written by ascendgen (its header has no recipe and content hash)"),
        ("# Content hash: sha256:00\nservices: {}\n", "not written by ascendgen (its header has no recipe and content "
                                                       "hash)"),
        ("# Regenerate (in this directory): ascendgen plan X\nservices: {}\n", "not written by ascendgen (its header "
                                                                               "has no recipe and content hash)"),
        (written("services: {}\n", "ascendgen plan 'Qwen3-8B"), "its recipe does not parse (No closing quotation)"),
    ],
)  # fmt: skip
def test_check_drift_names_what_is_wrong_with_the_file(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "compose.yml").write_text(text)
    result = check_drift(tmp_path, never)
    assert (result.path, result.problem, result.diff, result.ok) == (tmp_path / "compose.yml", problem, "", False)


def test_check_drift_of_a_file_it_cannot_read(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_bytes(b"\xff\xfe")
    result = check_drift(tmp_path, never)
    assert (result.path, result.problem) == (tmp_path / "compose.yml", "not a text file (it is not UTF-8)")


def test_check_drift_on_a_node_file_renders_the_parent_and_picks_its_directory(tmp_path: Path) -> None:
    head = tmp_path / "head"
    head.mkdir()
    (head / "compose.yml").write_text(written("services: {}\n", parent=True))
    bases: list[tuple[Path, Path | None]] = []

    def cluster(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
        bases.append((base, root))
        return {"head": written("services: {}\n", parent=True), "worker-1": "x"}

    assert check_drift(head, cluster).ok and bases == [(tmp_path, tmp_path.resolve())]

    def fewer(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
        return {"worker-2": "y", "worker-1": "x"}

    gone = check_drift(head, fewer)
    assert (gone.path, gone.problem) == (head / "compose.yml", "its recipe no longer writes a head/ directory "
                                                               "(worker-1, worker-2)")  # fmt: skip

    def refused(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
        raise InputError("unknown model 'x'")

    stale = check_drift(head, refused)
    assert (stale.path, stale.problem) == (head / "compose.yml", "its recipe no longer plans: unknown model 'x'")


def test_a_gateway_config_that_does_not_go_with_compose_is_a_problem(tmp_path: Path) -> None:
    """compose.yml matches its recipe, but the config it mounts is not the one it was planned with."""
    body = (
        "services:\n  gateway:\n    labels:\n      io.ascendgen.role: gateway\n"
        "      io.ascendgen.gateway-config: sha256:00\n"
    )
    (tmp_path / "compose.yml").write_text(written(body))

    def same(words: list[str], base: Path, root: Path | None) -> dict[str, str]:
        return {".": written(body)}

    result = check_drift(tmp_path, same)
    assert (result.problem, result.diff) == (
        f"{tmp_path / 'litellm-config.yaml'} is missing: rerun the plan command in compose.yml's header",
        "",
    )
    for other in ("services: {x: {labels: {io.ascendgen.role: gateway}}}\n", "services: [\n", "services: [gateway]\n",
                  "services: {gateway: {labels: [a]}}\n", "services: {gateway: 1}\n"):  # fmt: skip
        (tmp_path / "compose.yml").write_text(written(other))
        assert check_drift(tmp_path, lambda words, base, root, text=other: {".": written(text)}).ok, other


def test_the_compose_files_of_a_target(tmp_path: Path) -> None:
    assert compose_targets(tmp_path / "x.yml") == [tmp_path / "x.yml"]
    assert compose_targets(tmp_path) == [tmp_path / "compose.yml"]  # none there yet: check says so
    for name in ("head", "worker-2", "worker-10", "worker-1", "worker-x", "worker-3", "worker-0", "xworker-4"):
        (tmp_path / name).mkdir()
        if name != "worker-3":
            (tmp_path / name / "compose.yml").write_text("")
    assert compose_targets(tmp_path) == [tmp_path / d / "compose.yml" for d in ("head", "worker-1", "worker-2",
                                                                              "worker-10")]  # fmt: skip
    (tmp_path / "compose.yml").write_text("")  # a compose.yml of its own wins
    assert compose_targets(tmp_path) == [tmp_path / "compose.yml"]


def test_recipe_files_are_found_beside_the_compose_file_and_confined(tmp_path: Path) -> None:
    assert recipe_file(Path("c.yaml"), tmp_path, None, "--catalog") == tmp_path / "c.yaml"
    assert recipe_file(Path("/etc/c.yaml"), tmp_path, None, "--catalog") == Path("/etc/c.yaml")
    assert recipe_file(Path("c.yaml"), tmp_path, tmp_path.resolve(), "--catalog") == tmp_path / "c.yaml"
    with pytest.raises(InputError) as refused:
        recipe_file(Path("/etc/c.yaml"), tmp_path, tmp_path.resolve(), "--catalog")
    assert str(refused.value) == (
        "--catalog /etc/c.yaml: the recipe names an absolute path; ascendgen records paths relative to the compose "
        "file, so this header was edited (rerun with --allow-outside to read it anyway)"
    )
    with pytest.raises(InputError) as refused:
        recipe_file(Path("../c.yaml"), tmp_path, tmp_path.resolve(), "--catalog")
    assert str(refused.value) == (
        f"--catalog ../c.yaml: outside {tmp_path.resolve()}, where check reads the recipe's files (the git repository "
        "holding the compose file, or its directory); rerun with --allow-outside to read it anyway"
    )
    assert confine(tmp_path / "a" / ".." / "b", tmp_path.resolve(), "x") == tmp_path / "a" / ".." / "b"


def test_the_recipe_root_is_the_nearest_directory_with_a_git_entry(tmp_path: Path) -> None:
    deep = tmp_path / "repo" / "deploy" / "prod"
    deep.mkdir(parents=True)
    assert recipe_root(deep) == deep.resolve()  # no repository: the directory itself
    (tmp_path / ".git").mkdir()
    (tmp_path / "repo" / ".git").write_text("gitdir: /elsewhere\n")  # a worktree's .git is a file
    assert recipe_root(deep) == (tmp_path / "repo").resolve()
    assert recipe_root(tmp_path / "repo") == (tmp_path / "repo").resolve()
