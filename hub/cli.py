"""The `hub` command: what an operator runs."""

from __future__ import annotations

import sys

import httpx
import typer
from rich.console import Console
from rich.table import Table

from hub.publish import publish
from hub.simulate import simulate
from services.ledger.rebuild import rebuild
from kit.auth import digest
from kit.errors import StartupError
from kit.settings import HubSettings

app = typer.Typer(help="Assistance coordination hub: operator commands.", no_args_is_help=True)
keys = typer.Typer(help="API keys for department systems, staff and charities.")
app.add_typer(keys, name="keys")
web = typer.Typer(help="The staff web front: accounts and message catalogues.")
app.add_typer(web, name="web")
console = Console()
app.command()(publish)
app.command()(rebuild)
app.command()(simulate)


@app.command()
def up(
    intake_instances: int = typer.Option(1, min=1, max=8, help="Intake processes in its consumer group (one per core)"),
) -> None:
    """Start the broker (embedded unless HUB_KAFKA_BOOTSTRAP is set) and the four services."""
    from hub.launcher import run_hub

    try:
        code = run_hub(console.print, intake_instances)
    except StartupError as error:
        console.print(f"[red]hub: cannot start:[/red] {error}")
        raise typer.Exit(2) from None
    raise typer.Exit(code)


@app.command()
def status() -> None:
    """Ask each service's health endpoint how it is."""
    from hub.launcher import SERVICES, service_url

    hub = HubSettings()
    table = Table("service", "url", "status", "database", "peers heard")
    all_up = True
    for name in SERVICES:
        url = service_url(name, hub)
        try:
            health = httpx.get(f"{url}/health", timeout=2).json()
            table.add_row(name, url, health["status"], health["database"], ", ".join(sorted(health["peers"])))
            all_up &= health["status"] == "ok"
        except (httpx.HTTPError, ValueError, KeyError):
            table.add_row(name, url, "[red]not answering[/red]", "-", "-")
            all_up = False
    console.print(table)
    raise typer.Exit(0 if all_up else 1)


@keys.command("hash")
def hash_key(key: str) -> None:
    """Print the digest to put in the API keys file for KEY (the key itself is never stored)."""
    typer.echo(digest(key))


@web.command("create-admin")
def create_admin(
    username: str,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from standard input"),
) -> None:
    """Create a staff administrator (the first one; the rest are made on the accounts page)."""
    from services.web.cli import create_administrator

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    errors = create_administrator(username, password)
    for error in errors:
        console.print(f"[red]{error.field}:[/red] {error.message}")
    if errors:
        raise typer.Exit(1)
    console.print(f"administrator {username} created; sign in at the address `hub up` prints (/sign-in)")


@web.command("compile-messages")
def compile_messages() -> None:
    """Write the pages' .mo catalogues from their .po files (the service also compiles them at start)."""
    from services.web.i18n import CATALOGUES

    for path in CATALOGUES.write_compiled():
        typer.echo(str(path))


def main() -> None:
    try:
        app()
    except StartupError as error:
        print(f"hub: {error}", file=sys.stderr)
        sys.exit(2)
