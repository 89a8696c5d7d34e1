"""The commands that set up and check a team's repository: init, validate, schema, and the --version flag."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Annotated

import typer

from synthgate.console import say, usage_error
from synthgate.profile import ProfileError, load_profile
from synthgate.profile.schema import schema_text
from synthgate.project import default_profile


def package_version() -> str:
    """The installed distribution's version."""
    try:
        return dist_version("synthgate")
    except PackageNotFoundError:  # running from a source tree that was never installed
        return "0+unknown"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"synthgate {package_version()}")
        raise typer.Exit(0)


def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="print synthgate's version and exit")] = False,
) -> None:
    """synthgate: decide whether a fresh deploy may stay up, and roll it back when not."""


def validate(
    profile: Annotated[str | None, typer.Argument(help="profile file or bundled name (default: ./synthgate.yaml, "
                                                       "else demo)")] = None,
) -> None:
    """Check a profile without running anything: exit 0, or 2 with every problem as file:line:column."""
    try:
        loaded, path = load_profile(profile or default_profile())
    except ProfileError as exc:
        raise usage_error(str(exc)) from None
    say(f"{path}: valid profile {loaded.name!r}")


def schema() -> None:
    """Print the profile's JSON Schema (generated from the model) on stdout."""
    typer.echo(schema_text(), nl=False)


def init(
    directory: Annotated[Path, typer.Argument(help="the repository to set up (default: here)")] = Path("."),
    from_url: Annotated[str | None, typer.Option("--from", help="draft the profile from this live deployment")] = None,
    openapi: Annotated[str | None, typer.Option("--openapi", help="fuzz from this OpenAPI file or URL")] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist")] = False,
) -> None:
    """Set up a repository: synthgate.yaml, conftest.py, tests/<stage>/ examples, CI workflow, .gitignore."""
    from synthgate.project.scaffold import ScaffoldError, scaffold  # deferred: start-up speed

    try:
        for line in scaffold(directory, from_url=from_url, openapi=openapi, force=force, progress=say):
            say(line)
    except ScaffoldError as exc:
        raise usage_error(str(exc)) from None


def register(app: typer.Typer) -> None:
    """Add these commands (and the --version flag) to the CLI."""
    app.callback()(_root)
    app.command()(init)
    app.command()(validate)
    app.command()(schema)
