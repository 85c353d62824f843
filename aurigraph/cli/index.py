"""`aurigraph index`: build or bring up to date the PostgreSQL index from a node's data directory.

The node indexes by itself when started with `--postgres-dsn`; this command is for (re)building an
index offline — into a new database, after enabling PostgreSQL on an existing chain, or to check a
database. It reads the data directory read-only (a running node's too: as of the command's start)
and resumes from the index's cursor, so it can be stopped and re-run at any point.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

import asyncpg

from aurigraph.cli.common import CliError
from aurigraph.indexer import ChainMismatch, IndexGap, PgIndex
from aurigraph.indexer.datadir_source import DataDirSource
from aurigraph.indexer.follow import BATCH_BLOCKS, catch_up
from aurigraph.indexer.pg import DEFAULT_SCHEMA, UNREACHABLE
from aurigraph.ledger import StateDivergence
from aurigraph.node.datadir import DataDir


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="index a node's committed blocks into PostgreSQL (resumable)")
    p.add_argument("--data-dir", type=Path, default=Path("data"))
    p.add_argument("--postgres-dsn", required=True, help="e.g. postgresql://user@127.0.0.1:5432/aurigraph")
    p.add_argument("--postgres-schema", default=DEFAULT_SCHEMA, help="PostgreSQL schema of the index tables")
    p.add_argument("--batch-blocks", type=int, default=BATCH_BLOCKS, help="blocks per SQL transaction")
    p.set_defaults(func=cmd_index)


def cmd_index(args: argparse.Namespace) -> int:
    data = DataDir(args.data_dir)
    if not data.genesis.exists():
        raise CliError(f"{data.genesis} not found: is {args.data_dir} a node's data directory?")
    if args.batch_blocks < 1:
        raise CliError("--batch-blocks must be at least 1")
    return asyncio.run(_index(args, data))


async def _index(args: argparse.Namespace, data: DataDir) -> int:
    source = DataDirSource(data)
    target = source.head_height()
    try:
        index = await PgIndex.open(args.postgres_dsn, data.load_genesis(), args.postgres_schema)
    except UNREACHABLE as e:
        raise CliError(f"cannot reach PostgreSQL at {args.postgres_dsn}: {e}") from None
    except (ChainMismatch, ValueError, asyncpg.PostgresError) as e:
        raise CliError(f"cannot use PostgreSQL at {args.postgres_dsn}: {e}") from None
    started, total = time.monotonic(), 0
    first = (await index.head()).height
    print(f"index at height {first}; the data directory is at height {target}", flush=True)

    def progress(height: int, rows: int) -> None:
        nonlocal total
        total += rows
        rate = total / max(time.monotonic() - started, 1e-9)
        print(f"  indexed to height {height}/{target}: {total} rows, {rate:,.0f} rows/s", flush=True)

    try:
        height = await catch_up(index, source, batch_blocks=args.batch_blocks, on_batch=progress)
    except (IndexGap, StateDivergence) as e:
        raise CliError(f"the index does not match this data directory: {e}") from None
    except UNREACHABLE as e:
        raise CliError(f"lost PostgreSQL after {total} rows (run the command again to resume): {e}") from None
    finally:
        await index.close()
    print(f"done: indexed {height - first} blocks ({total} rows) in {time.monotonic() - started:.1f} s; "
          f"index at height {height}", flush=True)
    return 0
