"""The built-in catalog, hardware and images, validated once when the wheel is built instead of on every run.

Reading models.yaml, hardware.yaml and images.yaml and validating every entry is most of what a plan costs
after the imports. So the wheel carries ascendgen/_prevalidated_data.py, which hatch_build.py writes from the
objects the validated path returns: each record (ascendgen.records) rebuilt by its constructor, which sets the
fields as they are, without validating again. A run takes them only when the data file it would read is the one
they were made from (same sha256) and ascendgen is the same version; otherwise, and in a source checkout (which has
no such module), the data is read and validated as before. A user's --catalog / --hardware file is merged over
the built-in entries' YAML and validated, so it always takes the validated path.

tests/test_prevalidated.py checks that both paths give equal objects, entry by entry."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from ascendgen import __version__
from ascendgen.datafiles import data_file
from ascendgen.records import Record

MODULE = "ascendgen._prevalidated_data"
# what each data file holds, as the loaders return it: (file, section) -> the tuple in the generated module
SECTIONS = {
    ("models.yaml", "models"): "MODELS",
    ("hardware.yaml", "npu_types"): "NPU_TYPES",
    ("hardware.yaml", "platforms"): "PLATFORMS",
    ("hardware.yaml", "servers"): "SERVERS",
    ("images.yaml", "images"): "IMAGES",
}


def builtin(file: str, section: str) -> tuple[Any, ...] | None:
    """The validated entries of `section` of the built-in data file `file`, or None when this install has no
    pre-validated copy of that file as it is now."""
    try:
        from ascendgen import _prevalidated_data as data  # type: ignore[attr-defined]  # written into the wheel
    except ImportError:
        return None
    if __version__ != data.VERSION or data.SHA256.get(file) != file_sha256(data_file(file)):
        return None
    entries: tuple[Any, ...] = getattr(data, SECTIONS[(file, section)])
    return entries


def file_sha256(path: Path) -> str | None:
    try:
        info = os.stat(path)
    except OSError:
        return None  # the validated path says what is wrong with it
    return _sha256(path, info.st_mtime_ns, info.st_size, info.st_ino)


@lru_cache(maxsize=8)
def _sha256(path: Path, mtime_ns: int, size: int, inode: int) -> str | None:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def module_source() -> str:
    """The text of ascendgen/_prevalidated_data.py, from the validated path: run from a source tree, which has
    no generated module to take instead."""
    from ascendgen.catalog import load_catalog
    from ascendgen.hardware import load_hardware
    from ascendgen.images import load_images

    hardware = load_hardware()
    values = {
        "MODELS": load_catalog().models,
        "NPU_TYPES": hardware.npu_types,
        "PLATFORMS": hardware.platforms,
        "SERVERS": hardware.servers,
        "IMAGES": load_images(),
    }
    classes: dict[str, str] = {}
    body = [f"{name} = {_literal(value, classes)}\n" for name, value in values.items()]
    digests = {file: hashlib.sha256(data_file(file).read_bytes()).hexdigest() for file, _ in SECTIONS}
    imports = [f"from {module} import {name}\n" for module, name in sorted((m, n) for n, m in classes.items())]
    return "".join(
        [
            '"""Written by hatch_build.py when the wheel was built (ascendgen.prevalidated): the built-in data, '
            'validated."""\n\n',
            *imports,
            "\n",
            f"VERSION = {__version__!r}\n",
            f"SHA256 = {dict(sorted(digests.items()))!r}\n",
            *body,
        ]
    )


def _literal(value: Any, classes: dict[str, str]) -> str:
    """Python source that evaluates to `value`: a record as Class(...) of its fields, containers and scalars as
    their repr (which reads back exactly, floats included)."""
    if isinstance(value, Record):
        cls = type(value)
        classes[cls.__name__] = cls.__module__
        fields = ", ".join(f"{f.name}={_literal(getattr(value, f.name), classes)}" for f in dataclasses.fields(value))
        return f"{cls.__name__}({fields})"
    if isinstance(value, tuple):
        items = "".join(f"{_literal(item, classes)}, " for item in value)
        return f"({items})"
    if isinstance(value, list):
        return "[" + ", ".join(_literal(item, classes) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k, classes)}: {_literal(v, classes)}" for k, v in value.items()) + "}"
    if value is None or isinstance(value, (str, int, float, bool)):
        return repr(value)
    raise TypeError(f"cannot write a {type(value).__name__} into the pre-validated data")
