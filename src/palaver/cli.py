"""The ``palaver`` command line."""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated

import typer

from palaver import __version__
from palaver.config import Settings

cli = typer.Typer(help="Palaver: random video chat and messaging on one self-hosted server.", no_args_is_help=True)
admin = typer.Typer(help="Administration.", no_args_is_help=True)
cli.add_typer(admin, name="admin")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"palaver {__version__}")
        raise typer.Exit()


@cli.callback()
def main_options(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Configuration comes from PALAVER_* environment variables (see docs/operations.md)."""


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="HTTP port.")] = None,
    gateway_port: Annotated[int | None, typer.Option(help="WebSocket gateway port.")] = None,
    migrate: Annotated[bool, typer.Option(help="Apply database migrations first.")] = True,
    workers: Annotated[
        int | None,
        typer.Option(help="Worker processes sharing the ports (SO_REUSEPORT); more than 1 needs Redis."),
    ] = None,
    worker: Annotated[bool, typer.Option("--worker", hidden=True, help="Run as one supervised worker.")] = False,
) -> None:
    """Run the HTTP API, the web client and the realtime gateway."""
    from palaver.supervisor import raise_open_file_limit

    overrides = {"host": host, "http_port": port, "gateway_port": gateway_port, "workers": workers}
    settings = Settings().model_copy(update={k: v for k, v in overrides.items() if v is not None})
    label = f"[worker {settings.worker_index}] " if worker else ""
    logging.basicConfig(
        level=settings.log_level.upper(), format=f"%(asctime)s %(levelname)s {label}%(name)s %(message)s"
    )
    if settings.workers != 1 and not worker:
        raise typer.Exit(_supervise(settings, migrate=migrate))
    from palaver.app import run

    raise_open_file_limit()
    run(settings, migrate=migrate and not worker)


def _supervise(settings: Settings, *, migrate: bool) -> int:
    from palaver.adapters.storage.migrate import upgrade
    from palaver.config import load_secrets
    from palaver.supervisor import WorkersRefused, check_workers, run_supervisor

    try:
        check_workers(settings, settings.workers)
    except WorkersRefused as exc:
        typer.echo(f"error: {exc}", err=True)
        return 2
    if migrate:
        upgrade(settings.resolved_database_url())  # once, before any worker starts
    load_secrets(settings)  # generated once here, not raced for by the workers
    return run_supervisor(settings, settings.workers)


@cli.command()
def migrate(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Bring the database schema up to date."""
    from palaver.adapters.storage.migrate import upgrade

    settings = Settings()
    upgrade(settings.resolved_database_url(), revision)
    typer.echo(f"database at {revision}")


@admin.command("grant")
def grant(
    username: Annotated[str, typer.Argument(help="The user's username.")],
    role: Annotated[str, typer.Argument(help="user, moderator or admin.")],
) -> None:
    """Give a registered user a role."""
    from palaver.app import build
    from palaver.domain.accounts import Role
    from palaver.errors import PalaverError

    try:
        new_role = Role(role)
    except ValueError:
        typer.echo(f"unknown role {role!r}: use user, moderator or admin", err=True)
        raise typer.Exit(2) from None

    async def _grant() -> None:
        node = build(Settings())
        try:
            user = await node.accounts.grant_role(None, username=username, role=new_role)
            typer.echo(f"{user.username} is now {user.role.value}")
        finally:
            await node.storage.close()

    try:
        asyncio.run(_grant())
    except PalaverError as exc:
        typer.echo(f"error: {exc.message} ({exc.code})", err=True)
        raise typer.Exit(1) from None


def main() -> None:
    cli()
