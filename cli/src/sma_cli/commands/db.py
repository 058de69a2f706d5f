"""`sma db upgrade|downgrade|current`: the schema migrations, as the Kubernetes Job runs them; and
`sma db maintenance` (in `sma_cli.commands.maintenance`)."""

from __future__ import annotations

import argparse
from types import ModuleType

from sma_cli.commands import maintenance
from sma_cli.console import err, out
from sma_cli.settings import CliSettings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    db = sub.add_parser("db", help="database schema and maintenance").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="apply migrations (default: to head)")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(fn=upgrade)
    down = db.add_parser("downgrade", help="revert migrations (a revision, or 'base' for an empty schema)")
    down.add_argument("revision", help="target revision, e.g. base or -1")
    down.set_defaults(fn=downgrade)
    db.add_parser("current", help="show the applied revision").set_defaults(fn=current)
    maintenance.register(db)


def _migrations() -> ModuleType:
    # Alembic and SQLAlchemy take most of a second to import: only `sma db` pays for them.
    from sma_common.db import migrations

    return migrations


def _url() -> str:
    return CliSettings().database_url.get_secret_value()


def upgrade(args: argparse.Namespace) -> int:
    migrations = _migrations()
    with err.status(f"upgrading to {args.revision}"):
        migrations.upgrade(_url(), args.revision)
    out.print(f"schema at {migrations.current(_url())}")
    return 0


def downgrade(args: argparse.Namespace) -> int:
    migrations = _migrations()
    with err.status(f"downgrading to {args.revision}"):
        migrations.downgrade(_url(), args.revision)
    out.print(f"schema at {migrations.current(_url()) or 'base (empty)'}")
    return 0


def current(_: argparse.Namespace) -> int:
    migrations = _migrations()
    rev = migrations.current(_url())
    head = migrations.head()
    out.print(f"{rev or 'base (empty)'}{' (head)' if rev == head else f' (head is {head})'}")
    return 0
