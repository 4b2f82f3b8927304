"""`edgecloud keys`: create, list and revoke API keys in a key file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from edgecloud.security.keys import KeyStore

keys_app = typer.Typer(help="API keys for `serve --keys` and `gateway --keys`.", no_args_is_help=True)
KeysFile = Annotated[Path, typer.Option("--keys", help="the key file (only hashes are stored)")]


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(",") if part.strip())


@keys_app.command("create")
def create(
    name: Annotated[str, typer.Option(help="who or what the key is for")],
    keys: KeysFile,
    models: Annotated[
        str | None, typer.Option(help="comma-separated models this key may use (default all)")
    ] = None,
    tiers: Annotated[
        str | None, typer.Option(help="comma-separated tiers this key may use (default all)")
    ] = None,
    rpm: Annotated[int | None, typer.Option(help="requests per minute (default unlimited)")] = None,
    privacy: Annotated[
        str | None,
        typer.Option(help="this tenant's privacy mode at the gateway: keep-local, redact or block"),
    ] = None,
    admin: Annotated[
        bool, typer.Option("--admin", help="may open the gateway's dashboard and use its controls")
    ] = False,
) -> None:
    """Make a key and print it once: it is not stored anywhere, only its hash is."""
    if privacy not in (None, "keep-local", "redact", "block"):
        raise typer.BadParameter("--privacy is keep-local, redact or block")
    record, secret = KeyStore(keys).create(
        name, models=_split(models), tiers=_split(tiers), rpm=rpm, privacy=privacy, admin=admin
    )
    Console(stderr=True).print(f"key {record.id} for {name!r} (store it now; it cannot be shown again):")
    print(secret)


@keys_app.command("list")
def list_keys(keys: KeysFile) -> None:
    """Key ids, names and scopes (never the keys)."""
    table = Table("id", "name", "models", "tiers", "rpm", "privacy", "admin")
    for key in KeyStore(keys).records():
        table.add_row(
            key.id,
            key.name,
            ",".join(key.models) or "all",
            ",".join(key.tiers) or "all",
            str(key.rpm or "-"),
            key.privacy or "gateway's",
            "yes" if key.admin else "no",
        )
    Console().print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[str, typer.Argument(help="the key's id")], keys: KeysFile) -> None:
    """Remove a key; servers pick the change up when restarted."""
    if not KeyStore(keys).revoke(key_id):
        Console(stderr=True).print(f"no key {key_id!r} in {keys}")
        raise typer.Exit(1)
