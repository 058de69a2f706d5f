"""`sma keys create|list|revoke`: API keys, straight in the database (for bootstrapping the
first admin key; later keys can also be managed through the gateway's admin routes)."""

from __future__ import annotations

import argparse
import asyncio

import asyncpg
from rich.table import Table

from sma_cli.console import err, fail, out, print_json
from sma_cli.settings import CliSettings
from sma_common.api_keys import SCOPES, create_key, list_keys, revoke_key
from sma_common.db.pool import asyncpg_dsn


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create a key; the token is shown once")
    create.add_argument("--name", required=True)
    create.add_argument("--scopes", default="read", help=f"comma-separated, of {', '.join(SCOPES)}")
    create.add_argument("--json", action="store_true")
    create.set_defaults(fn=lambda a: asyncio.run(_create(a)))
    lst = keys.add_parser("list", help="list keys (never their secrets)")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(fn=lambda a: asyncio.run(_list(a)))
    revoke = keys.add_parser("revoke", help="revoke a key by its prefix")
    revoke.add_argument("prefix")
    revoke.set_defaults(fn=lambda a: asyncio.run(_revoke(a)))


async def _connect() -> asyncpg.Connection:
    return await asyncpg.connect(asyncpg_dsn(CliSettings().database_url.get_secret_value()))


async def _create(args: argparse.Namespace) -> int:
    scopes = [s.strip() for s in args.scopes.split(",") if s.strip()]
    conn = await _connect()
    try:
        row, token = await create_key(conn, args.name, scopes)
    except ValueError as exc:
        return fail(str(exc), 2)
    finally:
        await conn.close()
    if args.json:
        print_json({**dict(row), "token": token})
    else:
        out.print(f"created key [bold]{row['name']}[/bold] (prefix {row['prefix']}, scopes {','.join(row['scopes'])})")
        out.print(token, soft_wrap=True)
        err.print("Store it now: it is not shown again.")
    return 0


async def _list(args: argparse.Namespace) -> int:
    conn = await _connect()
    try:
        rows = await list_keys(conn)
    finally:
        await conn.close()
    if args.json:
        print_json([dict(r) for r in rows])
        return 0
    table = Table("name", "prefix", "scopes", "created", "last used", "revoked")
    for r in rows:
        table.add_row(r["name"], r["prefix"], ",".join(r["scopes"]), str(r["created_at"])[:19],
                      str(r["last_used_at"] or "")[:19], str(r["revoked_at"] or "")[:19])
    out.print(table)
    return 0


async def _revoke(args: argparse.Namespace) -> int:
    conn = await _connect()
    try:
        revoked = await revoke_key(conn, prefix=args.prefix)
    finally:
        await conn.close()
    if revoked is None:
        return fail(f"no active key with prefix {args.prefix}")
    out.print(f"revoked {args.prefix}")
    return 0
