"""The wheel carries models.yaml, hardware.yaml, images.yaml and the templates, and works from any
directory without the source tree."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import REPO


def test_wheel_ships_data_and_plans_from_anywhere(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("ascendgen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = ["models.yaml", "hardware.yaml", "images.yaml", "diagnoses.yaml", "architectures.yaml"]
    for data in [*shipped, "templates/compose.yml.j2"]:
        assert f"ascendgen/data/{data}" in names
    assert "ascendgen/_prevalidated_data.py" in names  # hatch_build.py: the built-in data, validated at build time

    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # only the installed wheel (plus the dependencies of this environment), never the checkout's src/
    env = {**os.environ, "PYTHONPATH": str(site)}
    done = subprocess.run(
        [sys.executable, "-I", "-c", _SCRIPT, str(site)],
        cwd=elsewhere,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["data_dir"].startswith(str(site))
    assert result["prevalidated"]  # the installed wheel takes its built-in data without validating it again
    # and a plan of it reads no YAML, and needs neither typer (cli/fast_args.py) nor pydantic (ascendgen.records)
    assert not {"yaml", "typer", "pydantic", "pydantic_core", "jinja2"} & set(result["dry_run_imports"])
    assert result["plan"]["tensor_parallel_size"] == 4
    assert (elsewhere / "compose.yml").is_file()


# -I (isolated mode) ignores PYTHONPATH, so the script puts the wheel's target dir first by hand
_SCRIPT = """
import json, sys, io, contextlib
sys.path.insert(0, sys.argv[1])
sys.path = [p for p in sys.path if not p.endswith("/src")]
import ascendgen.datafiles as r
from ascendgen.cli.app import main
def run(*args):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            main(["plan", "Qwen3-30B-A3B", *args])
        except SystemExit as exc:
            assert not exc.code, exc.code
    return out.getvalue()
run("--dry-run")
dry_run_imports = sorted({name.split(".")[0] for name in sys.modules})
plan = json.loads(run("--json"))
from ascendgen.prevalidated import builtin
print(json.dumps({"data_dir": str(r.data_dir()), "plan": plan, "dry_run_imports": dry_run_imports,
                  "prevalidated": builtin("models.yaml", "models") is not None}))
"""
