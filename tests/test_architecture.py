"""The import contract: dependencies run one way. Every module of src/ascendgen has a layer, and no module
imports from a layer above its own, not even inside a function:

    cli    the commands (typer, rich): parse flags, call the core, print
    run    what touches Docker, the host and running containers
    write  compose files and other files written: templates, rendering, all-or-nothing writes
    plan   what the user asked for and the plan made of it, from the data
    data   the catalogs, hardware and images data, strict file reading, small shared types

Besides the layers: the planner and its helpers are pure (data in, data out: no processes, network, Docker,
templates, terminal or environment); one module talks to the Docker SDK, one renders Jinja, three run commands
(docker compose, npu-smi); only cli/ prints.
Read with `ast`, so a module is never imported to be checked."""

from __future__ import annotations

import ast
from dataclasses import dataclass

import pytest

from helpers import REPO

PACKAGE = REPO / "src" / "ascendgen"

LAYERS: dict[str, tuple[str, ...]] = {
    "cli": ("cli", "__main__"),  # "cli": the package and every module in it
    "run": ("runtime", "preflight", "doctor", "diagnose", "composeconfig", "dockerengine", "npusmi", "endpoint",
            "hostnpus", "fit", "hostnet", "driver", "vllmlog", "observations", "replan"),
    # fit: what fits on this machine, whose NPUs hostnpus reads; hostnet/driver: this host's network and driver;
    # vllmlog/observations: what vLLM measured at start, kept in the user's cache; replan: up --replan
    "write": ("render", "render_cluster", "gpustack", "gateway", "generated", "catalogfile"),
    "plan": ("plans", "planner", "placement", "cluster", "request", "deployfile", "modeldir"),
    "data": ("__init__", "prevalidated", "records", "catalog", "hardware", "images", "yamlfile", "datafiles",
             "envfile", "npuset", "errors", "safetext"),
}  # fmt: skip
ORDER = ("data", "plan", "write", "run", "cli")  # lowest first: a module may import its own layer and those below

PURE = ("planner", "placement", "cluster", "request", "npuset")
# Modules a pure one must not import, and `os` attributes it must not use.
IMPURE_MODULES = ("subprocess", "socket", "docker", "jinja2", "rich", "typer", "urllib.request", "http", "shutil")
IMPURE_OS = ("environ", "getenv", "putenv", "system", "popen", "spawnv", "execv", "fork", "kill")
# Processes, sockets, HTTP and the engine belong to the run layer (and the commands above it).
RUN_ONLY = ("subprocess", "socket", "docker", "urllib.request", "http", "requests")
ONLY_IN = {
    "docker": ("dockerengine",),  # one way to the engine: dockerengine.connect_docker
    "jinja2": ("render",),  # one Jinja environment: render.jinja_environment
    # the commands run: `docker compose ...`, npu-smi, and `ip -j addr` (hostnet)
    "subprocess": ("composeconfig", "runtime", "npusmi", "hostnet"),
    "typer": ("cli",),
    "rich": ("cli",),  # all terminal output through cli/termui.py and cli/tables.py
    # validation through ascendgen.records, which imports pydantic only when a value is not plainly valid
    "pydantic": ("records",),
    "pydantic_core": ("records",),
}
# Peers of the run layer that share through npusmi / dockerengine, never through each other.
KEPT_APART = (("doctor", "preflight"), ("preflight", "doctor"))


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. "cli.plan" or "planner"
    target: str  # what it imports: "render", "cli.termui", or an outside module such as "subprocess"
    line: int

    @property
    def internal(self) -> bool:
        return not self.target.startswith("<outside>")

    @property
    def outside(self) -> str:
        return self.target.removeprefix("<outside>")

    def __str__(self) -> str:
        return f"{self.module}.py:{self.line} imports {self.outside if not self.internal else self.target}"


def modules() -> dict[str, str]:
    """Every module of the package, by dotted name below `ascendgen` ("__init__" for the package), with its source."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        name = ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)
        found[name] = path.read_text(encoding="utf-8")
    return found


def imports_of(module: str, source: str, known: set[str]) -> list[Import]:
    """Every import in `source`, at any depth (inside functions and `if TYPE_CHECKING:` too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [_import(module, alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the importing module's package
                package = module.split(".")[: -node.level] if "." in module else []
                base = ".".join(["ascendgen", *package, *([base] if base else [])])
            if base == "ascendgen" or base.startswith("ascendgen."):
                inner = base.removeprefix("ascendgen").lstrip(".")
                for alias in node.names:  # `from ascendgen.cli import termui` imports the module cli.termui
                    submodule = f"{inner}.{alias.name}" if inner else alias.name
                    target = submodule if submodule in known else (inner or "__init__")
                    found.append(Import(module, target, node.lineno))
            else:
                found.append(_import(module, base, node.lineno))
    return found


def _import(module: str, name: str, line: int) -> Import:
    if name == "ascendgen" or name.startswith("ascendgen."):
        return Import(module, name.removeprefix("ascendgen").lstrip(".") or "__init__", line)
    return Import(module, f"<outside>{name}", line)


def layer_of(module: str) -> str | None:
    for layer, members in LAYERS.items():
        if module in members or any(module.startswith(f"{member}.") for member in members):
            return layer
    return None


def every_import() -> list[Import]:
    found = modules()
    return [imp for name, source in found.items() for imp in imports_of(name, source, set(found))]


def upward(imports: list[Import]) -> list[str]:
    """The imports that reach a layer above the importing module's own."""
    wrong = []
    for imp in imports:
        if not imp.internal:
            continue
        mine, theirs = layer_of(imp.module), layer_of(imp.target)
        if mine and theirs and ORDER.index(theirs) > ORDER.index(mine):
            wrong.append(f"{imp} ({mine} -> {theirs})")
    return wrong


def outside_uses(imports: list[Import], names: tuple[str, ...]) -> list[Import]:
    return [imp for imp in imports if not imp.internal and any(_is(imp.outside, name) for name in names)]


def _is(module: str, name: str) -> bool:
    return module == name or module.startswith(f"{name}.")


def test_every_module_has_a_layer() -> None:
    missing = [name for name in modules() if layer_of(name) is None]
    assert missing == [], f"add these modules to a layer in tests/test_architecture.py: {missing}"
    listed = {member for members in LAYERS.values() for member in members}
    assert len(listed) == sum(len(members) for members in LAYERS.values()), "a module is listed in two layers"
    stale = listed - {name.split(".")[0] for name in modules()} - {"__init__"}
    assert stale == set(), f"no such modules: {stale}"


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward(every_import()) == []


def test_pure_modules_touch_nothing_outside() -> None:
    found = modules()
    for name in PURE:
        imports = imports_of(name, found[name], set(found))
        assert [str(imp) for imp in outside_uses(imports, IMPURE_MODULES)] == [], name
        os_uses = sorted(
            f"{name}.py:{node.lineno} os.{node.attr}"
            for node in ast.walk(ast.parse(found[name]))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os"
            and node.attr in IMPURE_OS
        )  # fmt: skip
        assert os_uses == [], name


def test_processes_network_and_the_engine_only_in_the_run_layer() -> None:
    wrong = [str(imp) for imp in outside_uses(every_import(), RUN_ONLY) if layer_of(imp.module) not in ("run", "cli")]
    assert wrong == []


@pytest.mark.parametrize("library", sorted(ONLY_IN))
def test_a_library_is_used_in_one_place(library: str) -> None:
    allowed = ONLY_IN[library]
    wrong = [
        str(imp)
        for imp in outside_uses(every_import(), (library,))
        if not any(imp.module == home or imp.module.startswith(f"{home}.") for home in allowed)
    ]
    assert wrong == [], f"only {', '.join(allowed)} may import {library}"


def test_only_the_commands_print() -> None:
    """The core returns data and raises errors; cli/ decides what reaches the terminal."""
    wrong = []
    for name, source in modules().items():
        if layer_of(name) == "cli":
            continue
        for node in ast.walk(ast.parse(source)):
            printing = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print"
            stream = (
                isinstance(node, ast.Attribute) and node.attr in ("stdout", "stderr")
                and isinstance(node.value, ast.Name) and node.value.id == "sys"
            )  # fmt: skip
            if printing or stream:
                wrong.append(f"{name}.py:{getattr(node, 'lineno', '?')}")
    assert wrong == []


def test_doctor_and_preflight_share_through_npusmi_not_each_other() -> None:
    wrong = [str(imp) for imp in every_import() if (imp.module, imp.target) in KEPT_APART]
    assert wrong == []


# ---- the checker itself catches what it is for ------------------------------------------------------------


KNOWN = {"planner", "render", "cli", "cli.termui", "request", "__init__"}


@pytest.mark.parametrize(
    "source",
    [
        "from ascendgen.render import Service\n",
        "import ascendgen.render\n",
        "def f():\n    from ascendgen.cli import termui\n",  # inside a function
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ascendgen import render\n",
    ],
)
def test_an_upward_import_is_caught_wherever_it_is_written(source: str) -> None:
    assert len(upward(imports_of("planner", source, KNOWN))) == 1


def test_imports_within_and_below_a_layer_pass() -> None:
    source = "from ascendgen.planner import Plan\nfrom ascendgen import __version__\nfrom ascendgen.request import x\n"
    assert upward(imports_of("render", source, KNOWN)) == []


def test_an_impure_import_inside_a_function_is_caught() -> None:
    imports = imports_of("planner", "def f():\n    import subprocess.run\n    from rich.table import Table\n", KNOWN)
    assert [imp.outside for imp in outside_uses(imports, IMPURE_MODULES)] == ["subprocess.run", "rich.table"]
