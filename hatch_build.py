"""Build hook: the wheel carries the built-in catalog, hardware and images validated once, here
(ascendgen/_prevalidated_data.py; see src/ascendgen/prevalidated.py), so that a run need not read and validate
them again."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return  # an editable install reads the checkout's data files, which may change: the validated path
        sys.path.insert(0, str(Path(self.root) / "src"))
        try:
            from ascendgen.prevalidated import module_source

            text = module_source()
        finally:
            sys.path.pop(0)
        self._temporary = tempfile.TemporaryDirectory()
        generated = Path(self._temporary.name) / "_prevalidated_data.py"
        generated.write_text(text, encoding="utf-8")
        build_data["force_include"][str(generated)] = "ascendgen/_prevalidated_data.py"

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        temporary = getattr(self, "_temporary", None)
        if temporary is not None:
            temporary.cleanup()
