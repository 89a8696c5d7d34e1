"""The command line's two consoles and its two ways of speaking: a progress line, and a usage error (exit 2)."""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from synthgate.redact import redactor
from synthgate.results import EXIT_USAGE

console = Console(highlight=False, soft_wrap=True)
# tables piped to a file or a CI log are not squeezed into 80 columns
table_console = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def say(text: str) -> None:
    """Print one progress line, redacted."""
    console.print(redactor(text), markup=False)


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print an error (redacted, no traceback) and return the exit to raise (a usage error unless `code` says)."""
    err.print(f"synthgate: error: {redactor(message)}", markup=False)
    return typer.Exit(code)


def usage_error(message: str) -> typer.Exit:
    """Print a usage/profile error (no traceback) and return the exit to raise."""
    return fail(message, EXIT_USAGE)
