"""NPU index lists as users write them: `0-3`, `4,5,6,7`, `0-1,6-7`."""

from __future__ import annotations

import re

from ascendgen.errors import InputError

_PART = re.compile(r"^([0-9]{1,4})(?:-([0-9]{1,4}))?$")  # ASCII digits only


def parse_npus(text: str) -> tuple[int, ...]:
    indices: list[int] = []
    for part in text.replace(" ", "").split(","):
        match = _PART.match(part)
        if not match:
            raise InputError(f"--npus '{text}': expected NPU indices like '0-3' or '4,5,6,7'")
        first = int(match.group(1))
        last = int(match.group(2)) if match.group(2) is not None else first
        if last < first:
            raise InputError(f"--npus '{text}': range {first}-{last} runs backwards")
        indices.extend(range(first, last + 1))
    if len(set(indices)) != len(indices):
        raise InputError(f"--npus '{text}': an NPU is listed twice")
    return tuple(sorted(indices))


def format_npus(indices: tuple[int, ...] | list[int]) -> str:
    """The shortest readable form: (0, 1, 2, 3) -> '0-3', (0, 2) -> '0,2'."""
    parts: list[str] = []
    ordered = sorted(indices)
    start = prev = None
    for index in [*ordered, None]:
        if start is not None and (index is None or index != prev + 1):  # type: ignore[operator]
            parts.append(str(start) if start == prev else f"{start}-{prev}")
            start = None
        if index is not None and start is None:
            start = index
        prev = index
    return ",".join(parts)
