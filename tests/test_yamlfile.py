"""Every YAML file ascendgen reads (catalog, hardware, images, deployment file): only a regular file of
bounded size, read in bounded chunks; an error that quotes nothing from a file that does not parse;
duplicate keys refused with both lines; strict types (no boolean or text for a number, finite numbers)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from ascendgen import yamlfile
from ascendgen.catalog import load_catalog
from ascendgen.errors import CatalogError
from ascendgen.hardware import load_hardware
from ascendgen.images import load_images
from ascendgen.yamlfile import MAX_INPUT_BYTES, UnreadableFileError, read_text_file

from helpers import Run, Write, bounded_ascendgen, tiny_model_entry

# ---------------------------------------------------------------------------------- what is read at all


def test_a_device_is_refused_without_reading_it() -> None:
    result = bounded_ascendgen("plan", "-f", "/dev/zero")
    assert result.returncode == 2, result
    assert result.stderr == "error: /dev/zero: not a regular file (a device, FIFO or socket); give a file\n"
    result = bounded_ascendgen("plan", "Qwen3-8B", "--dry-run", "--catalog", "/dev/zero")
    assert result.returncode == 2 and "/dev/zero: not a regular file" in result.stderr, result


def test_reading_stops_at_the_limit_even_when_the_size_lied() -> None:
    """A file that grows after its size was checked (here /dev/zero with the check skipped) is read only
    up to the limit, in chunks."""
    code = (
        "from pathlib import Path\n"
        "from ascendgen import yamlfile\n"
        "yamlfile._check_regular = lambda *args: None\n"
        "try:\n"
        "    yamlfile.read_text_file(Path('/dev/zero'))\n"
        "except yamlfile.UnreadableFileError as exc:\n"
        "    print(exc)\n"
    )
    result = bounded_ascendgen(code=code)
    assert result.returncode == 0, result
    assert result.stdout == "/dev/zero: larger than 1 MiB, the most ascendgen reads from an input file\n"


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "ascendgen.yaml"
    os.mkfifo(fifo)
    result = bounded_ascendgen("plan", "-f", str(fifo), "--out", str(tmp_path / "out"))
    assert result.returncode == 2, result
    assert result.stderr == f"error: {fifo}: not a regular file (a device, FIFO or socket); give a file\n"


def test_a_directory_is_refused(run: Run, tmp_path: Path) -> None:
    result = run("plan", "Qwen3-8B", "--dry-run", "--catalog", str(tmp_path))
    assert (result.exit_code, result.stderr) == (2, f"error: {tmp_path}: is a directory, not a file\n")


def test_a_file_above_the_limit_is_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(MAX_INPUT_BYTES + 1)  # sparse: takes no disk
    with pytest.raises(UnreadableFileError, match=r"big\.yaml: larger than 1 MiB, the most ascendgen reads"):
        load_catalog([big])
    at_limit = tmp_path / "at-limit.yaml"
    at_limit.write_text("models: []\n" + "#" * (MAX_INPUT_BYTES - 12) + "\n")
    assert at_limit.stat().st_size == MAX_INPUT_BYTES
    assert load_catalog([at_limit]).models == load_catalog().models


def test_binary_file_is_not_text(tmp_path: Path) -> None:
    binary = tmp_path / "mine.yaml"
    binary.write_bytes(b"models:\n  - name: \xff\xfe\x00SECRET\n")
    with pytest.raises(UnreadableFileError, match=r"mine\.yaml: not a text file \(it is not UTF-8\)$"):
        read_text_file(binary)
    with pytest.raises(CatalogError) as caught:
        load_catalog([binary])
    assert "SECRET" not in str(caught.value)


# ---------------------------------------------------------------- nothing quoted from a file that fails

# Files with a secret where PyYAML's messages quote what they found: an undefined alias, an unknown tag,
# a value its tag cannot convert, a duplicate anchor, an unknown escape, a tag handle. And a shadow-like
# file, which reads as one plain string.
SECRET = "hunter2SECRETtoken"
SECRET_FILES = [
    f"root:$6${SECRET}:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n",
    f"instances:\n  - model: Qwen3-8B\nroot:$6${SECRET}:19000:0:99999:7:::\n",
    f"- {SECRET}\n",
    f"models: *{SECRET}\n",
    f"models: !{SECRET} x\n",
    f"models:\n  - name: !!int {SECRET}\n",
    f"models:\n  - name: !!float {SECRET}\n",
    f"models:\n  - name: !!bool {SECRET}\n",
    f"models:\n  - name: !!timestamp {SECRET}\n",
    f"models:\n  - a: &{SECRET} 1\n    b: &{SECRET} 2\n",
    f'models: "\\q{SECRET}"\n',
    f"models: !{SECRET}! x\n",
    f"models:\n  - name: !!python/name:{SECRET} x\n",
    f"{SECRET}: 1\n{SECRET}: 2\n",
    f"models:\n  - {{name: [{SECRET}\n",
    f"key: {SECRET}\n key2: x\n",
    f"models: 2020-13-45 {SECRET}\n---\n{SECRET}\n",
]


@pytest.mark.parametrize("text", SECRET_FILES)
def test_a_file_that_does_not_parse_is_not_quoted(run: Run, tmp_path: Path, text: str) -> None:
    secret = tmp_path / "outside" / "shadow"
    secret.parent.mkdir()
    secret.write_text(text)
    for args in (["--catalog", str(secret), "Qwen3-8B"], ["--hardware", str(secret), "Qwen3-8B"], ["-f", str(secret)]):
        result = run("plan", "--dry-run", *args)
        assert result.exit_code == 2, result
        assert result.stderr.startswith(f"error: {secret}") and len(result.stderr.splitlines()) == 1, result
        assert SECRET not in result.stderr + result.stdout
        assert "unexpected" not in result.stderr


@pytest.mark.parametrize("loader", [yaml.SafeLoader, getattr(yaml, "CSafeLoader", yaml.SafeLoader)])
@pytest.mark.parametrize("text", SECRET_FILES)
def test_yaml_problems_lose_their_quoted_text(loader: type, text: str) -> None:
    """PyYAML's pure-Python loader quotes more than libyaml: neither reaches the message."""
    try:
        yaml.load(text, loader)
    except yaml.YAMLError as exc:
        problem = yamlfile._problem(exc)
        assert SECRET not in problem and SECRET.lower() not in problem
        assert problem and problem == problem.strip()
    except Exception:
        pass  # a ValueError: read_yaml's own loader turns it into a YAML error (tested above)


def test_a_single_character_and_a_token_type_stay_in_the_message() -> None:
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.load("a: [1\nb", yaml.SafeLoader)
    assert yamlfile._problem(caught.value) == "expected ',' or ']', but got '<stream end>'"
    with pytest.raises(yaml.YAMLError) as caught:
        yaml.load("a: @x", yaml.SafeLoader)
    assert yamlfile._problem(caught.value) == "found character '@' that cannot start any token"


def test_a_bad_value_names_its_line(write: Write) -> None:
    path = write("mine.yaml", "models:\n  - name: Qwen3-8B\n    num_layers: !!int many\n")
    with pytest.raises(CatalogError, match=r"mine\.yaml:3: malformed YAML: a int value that cannot be read as one$"):
        load_catalog([path])


# ------------------------------------------------------------------------------------- duplicate keys


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "models:\n  - name: Qwen3-8B\n    num_layers: 36\n    hidden_size: 4096\n    num_layers: 2\n",
            "mine.yaml:5: duplicate key 'num_layers': it is already given on line 3; give each key once",
        ),
        (
            "models:\n  - name: Qwen3-8B\nmodels:\n  - name: Qwen3-4B\n",
            "mine.yaml:3: duplicate key 'models': it is already given on line 1",
        ),
        (
            "models:\n  - {name: Qwen3-8B, name: Qwen3-4B}\n",
            "mine.yaml:2: duplicate key 'name': it is already given on line 2",
        ),
        (
            "models:\n  - name: Qwen3-8B\n    npus:\n      910B4: 1\n      '910B4': 2\n",
            "mine.yaml:5: duplicate key: it is already given on line 4",  # not a plain key: not quoted
        ),
    ],
)
def test_a_catalog_key_given_twice_is_refused(write: Write, text: str, message: str) -> None:
    path = write("mine.yaml", text)
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert str(caught.value).startswith(f"{path.parent}/{message}"), caught.value


def test_a_deployment_key_given_twice_is_refused(run: Run, write: Write) -> None:
    path = write("ascendgen.yaml", "instances:\n  - model: Qwen3-8B\n    port: 8001\n    port: 8002\n")
    result = run("plan", "-f", str(path), "--dry-run")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {path}:4: duplicate key 'port': it is already given on line 3; give each key once\n"
    )


def test_hardware_and_images_keys_given_twice_are_refused(write: Write) -> None:
    hardware = write("hw.yaml", "servers:\n  - name: mine\n    npu_type: 910B4\n    npu_count: 8\n    npu_count: 4\n")
    with pytest.raises(CatalogError, match=r"hw\.yaml:5: duplicate key 'npu_count': it is already given on line 4"):
        load_hardware([hardware])
    images = write("images.yaml", "images:\n  - tag: v0.9.1\n    vllm: 0.9.1\n    vllm: 0.9.2\n")
    with pytest.raises(CatalogError, match=r"images\.yaml:4: duplicate key 'vllm': it is already given on line 3"):
        load_images([images])


def test_an_alias_bomb_is_walked_once(write: Write) -> None:
    """Aliases share nodes: the duplicate-key walk visits each once (nine levels of ten would be 10^9)."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    path = write("bomb.yaml", "\n".join(lines) + "\n")
    with pytest.raises(CatalogError, match=r"bomb\.yaml:1: unknown top-level key 'a0'"):
        load_catalog([path])


# --------------------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("num_layers", "true", "num_layers: must be a whole number, not a boolean (YAML reads yes/no/on/off"),
        ("num_layers", "yes", "num_layers: must be a whole number, not a boolean"),
        ("num_layers", '"8"', "num_layers: must be a whole number, not text (write a number without quotes)"),
        ("num_layers", "36.0", "num_layers: must be a whole number, not a decimal number"),
        ("num_layers", "0", "num_layers: Input should be greater than 0"),
        ("params_b", ".inf", "params_b: must be a finite number, not .inf"),
        ("params_b", ".nan", "params_b: must be a finite number, not .nan"),
        ("params_b", "'8.2'", "params_b: must be a number, not text (write a number without quotes)"),
        ("params_b", "true", "params_b: must be a number, not a boolean"),
        ("vision", "1", "vision: must be true or false, not a whole number"),
        ("vision", "'yes'", "vision: must be true or false, not text"),
        ("serve_flags", "--x", "serve_flags: must be a list, not text"),
        ("served_name", "8", "served_name: must be text, not a whole number (put it in quotes)"),
        ("npus", "{910B4: true}", "npus.910B4: must be a whole number, not a boolean"),
    ],
)
def test_catalog_types_are_strict(write: Write, field: str, value: str, message: str) -> None:
    path = write("mine.yaml", f"models:\n  - name: Qwen3-8B\n    {field}: {value}\n")
    with pytest.raises(CatalogError) as caught:
        load_catalog([path])
    assert str(caught.value).startswith(f"{path}:3: model 'Qwen3-8B': {message}"), caught.value


def test_a_whole_number_is_still_a_number(write: Write) -> None:
    path = write("mine.yaml", "models:\n" + tiny_model_entry("Tiny").replace("params_b: 0.01", "params_b: 1"))
    assert load_catalog([path]).get("Tiny").params_b == 1.0


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            "  - model: Qwen3-8B\n    port: yes\n",
            "3: deployment: instances.0.port: must be a whole number, not a boolean",
        ),
        (
            "  - model: Qwen3-8B\n    port: '8001'\n",
            "3: deployment: instances.0.port: must be a whole number, not text",
        ),
        ("  - model: Qwen3-8B\n    tp: true\n", "3: deployment: instances.0.tp: must be a whole number, not a boolean"),
        ("  - model: Qwen3-8B\n    npus: true\n", "3: deployment: instances.0.npus: must be NPU indices like '0-3'"),
        (
            "  - model: Qwen3-8B\n    gpu_memory_utilization: .nan\n",
            "3: deployment: instances.0.gpu_memory_utilization: must be a finite number, not .nan",
        ),
        ("  - model: 8\n", "2: deployment: instances.0.model: must be text, not a whole number (put it in quotes)"),
        ("  model: Qwen3-8B\n", "1: deployment: instances: must be a list, not a mapping"),
    ],
)
def test_deployment_types_are_strict(run: Run, write: Write, entry: str, message: str) -> None:
    path = write("ascendgen.yaml", "instances:\n" + entry)
    result = run("plan", "-f", str(path), "--dry-run")
    assert result.exit_code == 2, result
    assert result.stderr.startswith(f"error: {path}:{message}"), result.stderr


def test_deployment_numbers_written_plainly_still_plan(run: Run, write: Write) -> None:
    path = write(
        "ascendgen.yaml",
        "first_port: 9000\napi_key_env: no\ninstances:\n  - model: Qwen3-8B\n    npus: 3\n"
        "    gpu_memory_utilization: 1\n  - model: Qwen3-4B\n    npus: [4, 5]\n    port: 9100\n",
    )
    result = run("plan", "--json", "-f", str(path), "--dry-run")
    assert result.exit_code == 0, result.stderr
    first, second = result.json()
    assert (first["npus"], first["port"], second["npus"], second["port"]) == ([3], 9000, [4, 5], 9100)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: true\n",
            "4: server profile 's': npu_count: must be",
        ),
        (
            "servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: '8'\n",
            "4: server profile 's': npu_count: must be",
        ),
        (
            "servers:\n  - name: s\n    npu_type: 910B4\n    npu_count: 0\n",
            "4: server profile 's': npu_count: Input should be",
        ),
        ("npu_types:\n  - name: 910B4\n    memory_gib: .inf\n", "3: NPU type '910B4': memory_gib: must be a finite"),
        (
            "servers:\n  - name: atlas-800i-a2\n    groups: [[0, true]]\n",
            "3: server profile 'atlas-800i-a2': groups.0.1: must be a whole number, not a boolean",
        ),
    ],
)
def test_hardware_types_are_strict(write: Write, text: str, message: str) -> None:
    path = write("hw.yaml", text)
    with pytest.raises(CatalogError) as caught:
        load_hardware([path])
    assert str(caught.value).startswith(f"{path}:{message}"), caught.value


def test_image_types_are_strict(write: Write) -> None:
    path = write("images.yaml", "images:\n  - tag: v0.9.1\n    gpu_memory_utilization_default: .inf\n")
    with pytest.raises(CatalogError, match=r"images\.yaml:3: image 'v0\.9\.1': gpu_memory_utilization_default: must"):
        load_images([path])
