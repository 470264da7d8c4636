"""All terminal output goes through here: results on stdout, diagnostics on stderr, one semantic theme.
Rich drops colour by itself when the stream is not a terminal (and honours NO_COLOR)."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.theme import Theme

from ascendgen.safetext import one_line

THEME = Theme(
    {
        "primary": "bold cyan",
        "success": "green",
        "warning": "yellow",
        "error": "bold red",
        "info": "dim",
        "key": "bold",
    }
)

# emoji=False: text is shown as written ('chat:ok:v1' stays that, not 'chat🆗v1'), and rich's table of 3,600 emoji
# codes, which it imports on the first string it prints, is never loaded (bench/README.md: start-up)
out = Console(theme=THEME, highlight=False, soft_wrap=False, emoji=False)
err = Console(theme=THEME, highlight=False, stderr=True, soft_wrap=True, emoji=False)


def print_json(data: Any) -> None:
    # plain print: rich would wrap long lines and break the JSON for scripts
    out.file.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    out.file.flush()


def error(message: str) -> None:
    err.print(f"[error]error:[/] {_escape(one_line(message))}")


def warning(message: str) -> None:
    err.print(f"[warning]warning:[/] {_escape(one_line(message))}")


def success(message: str) -> None:
    err.print(f"[success]{_escape(message)}[/]")


def info(message: str) -> None:
    err.print(f"[info]{_escape(message)}[/]")


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
