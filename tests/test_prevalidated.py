"""The built-in data validated once when the wheel is built (ascendgen.prevalidated, hatch_build.py): the objects a
run takes from it are the ones the validated path gives, and it is taken only for the data it was made from."""

from __future__ import annotations

import dataclasses
import importlib.util
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ascendgen import prevalidated
from ascendgen.catalog import load_catalog
from ascendgen.hardware import load_hardware
from ascendgen.images import load_images
from ascendgen.records import Record, dump

from helpers import REPO, Result

EXAMPLES = REPO / "examples"


def validated() -> dict[str, tuple[Any, ...]]:
    hardware = load_hardware()
    return {
        "MODELS": load_catalog().models,
        "NPU_TYPES": hardware.npu_types,
        "PLATFORMS": hardware.platforms,
        "SERVERS": hardware.servers,
        "IMAGES": load_images(),
    }


@pytest.fixture
def generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """The module hatch_build.py writes into the wheel, written and imported as the wheel's would be."""
    assert prevalidated.builtin("models.yaml", "models") is None  # a source tree has none: the validated path
    path = tmp_path / "_prevalidated_data.py"
    path.write_text(prevalidated.module_source(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(prevalidated.MODULE, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setitem(sys.modules, prevalidated.MODULE, module)
    monkeypatch.setattr(sys.modules["ascendgen"], "_prevalidated_data", module, raising=False)
    yield module


def same(a: Any, b: Any) -> None:
    """Equal as objects, field by field, of the same types all the way down."""
    assert type(a) is type(b)
    if isinstance(a, Record):
        assert a == b
        assert repr(a) == repr(b)
        assert dump(a) == dump(b)
        for field in dataclasses.fields(a):
            same(getattr(a, field.name), getattr(b, field.name))
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            same(x, y)
    elif isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            same(a[key], b[key])
    else:
        assert a == b and repr(a) == repr(b)


def test_the_fast_path_gives_the_objects_the_validated_path_gives(generated: ModuleType) -> None:
    slow = validated()
    fast = validated()
    for name, entries in slow.items():
        assert fast[name] is getattr(generated, name)  # taken from the generated module, not read again
        assert len(entries) > 0
        same(fast[name], entries)


def test_every_nested_model_and_default_is_rebuilt(generated: ModuleType) -> None:
    """The built-in data holds the shapes the generator has to write: nested models (mla, flags), tuples of
    tuples (server groups), dicts (npus, env), floats, None and unset defaults."""
    by_name = {model.name: model for model in generated.MODELS}
    assert any(model.mla is not None for model in generated.MODELS)
    assert any(server.groups and isinstance(server.groups[0], tuple) for server in generated.SERVERS)
    assert all(type(image.flags).__name__ == "ImageFlags" for image in generated.IMAGES)
    assert by_name["Qwen3-30B-A3B"].npus and by_name["Qwen3-30B-A3B"].vision is False


def test_a_changed_data_file_or_version_takes_the_validated_path(
    generated: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(generated.SHA256, "models.yaml", "0" * 64)  # models.yaml is not what it was made from
    assert load_catalog().models is not generated.MODELS
    assert load_images() is generated.IMAGES  # the other files still are
    monkeypatch.setattr(generated, "VERSION", "0.0.0")
    assert load_images() is not generated.IMAGES
    assert load_hardware().servers is not generated.SERVERS


def test_a_user_file_takes_the_validated_path(generated: ModuleType, write: Callable[[str, str], Path]) -> None:
    mine = write("mine.yaml", "models:\n  - name: Qwen3-8B\n    max_position_embeddings: 32768\n")
    catalog = load_catalog([mine])
    assert catalog.models is not generated.MODELS
    assert next(m for m in catalog.models if m.name == "Qwen3-8B").max_position_embeddings == 32768
    assert load_hardware([write("hw.yaml", "servers: []\n")]).servers is not generated.SERVERS


def test_the_examples_regenerate_byte_for_byte_from_the_fast_path(
    generated: ModuleType, run: Callable[..., Result]
) -> None:
    """`check` re-renders every committed example from its recipe, with the built-in data from the fast path."""
    for example in sorted(EXAMPLES.glob("**/compose.yml")):
        result = run("check", str(example))
        assert result.exit_code == 0, (example, result.stdout, result.stderr)
    assert load_catalog().models is generated.MODELS


def test_plans_are_the_same_either_way(run: Callable[..., Result], generated: ModuleType, monkeypatch: Any) -> None:
    args = ("plan", "Qwen3-30B-A3B", "Qwen2.5-Coder-32B-Instruct", "--dry-run", "--json")
    fast = run(*args)
    monkeypatch.setitem(sys.modules, prevalidated.MODULE, None)  # as if there were none: the import fails
    monkeypatch.delattr(sys.modules["ascendgen"], "_prevalidated_data")
    assert prevalidated.builtin("models.yaml", "models") is None
    slow = run(*args)
    assert fast.exit_code == 0 and fast == slow
