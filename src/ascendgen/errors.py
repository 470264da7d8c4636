"""The one error root. The CLI maps each kind to an exit code; nothing else catches them."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILURE = 1  # something went wrong at run time (Docker, the host, a container)
    BAD_INPUT = 2  # the user's input or files are wrong; nothing was done


class AscendgenError(Exception):
    """A problem the user can act on; its message is shown as one line, without a traceback."""

    exit_code = ExitCode.FAILURE


class InputError(AscendgenError):
    """Bad arguments, an unknown model, a malformed catalog: refused before anything is written."""

    exit_code = ExitCode.BAD_INPUT


class CatalogError(InputError):
    """A catalog or hardware file that does not parse or validate."""


class PlanError(InputError):
    """A deployment that cannot work: wrong TP, weights that do not fit, a length above the KV cache."""


def first_line(exc: BaseException) -> str:
    """An exception as one line for a message: the first line of its text, or its type when it has none."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
