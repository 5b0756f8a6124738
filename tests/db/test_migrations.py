"""Migrations go up, down to base and up again, and match the models exactly."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import asyncpg
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from composite_booking.db.base import Base
from composite_booking.db.migrate import downgrade, upgrade
from tests.conftest import PG_HOST, PG_PORT, _admin, database_url, run_outside_loop


@pytest.fixture
def scratch_database() -> Iterator[str]:
    name = f"cb_migrations_{uuid.uuid4().hex[:10]}"
    run_outside_loop(lambda: asyncio.run(_admin(f'CREATE DATABASE "{name}"')))
    yield name
    run_outside_loop(lambda: asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')))


async def _tables(name: str) -> set[str]:
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user="postgres", database=name)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


def tables(name: str) -> set[str]:
    found: set[str] = set()
    run_outside_loop(lambda: found.update(asyncio.run(_tables(name))))
    return found


def test_upgrade_downgrade_upgrade(scratch_database: str) -> None:
    url = database_url(scratch_database)
    model_tables = {table.name for table in Base.metadata.sorted_tables}

    run_outside_loop(lambda: upgrade(url))
    assert model_tables <= tables(scratch_database)
    run_outside_loop(lambda: downgrade(url, "base"))
    assert tables(scratch_database) <= {"alembic_version"}
    run_outside_loop(lambda: upgrade(url))
    assert model_tables <= tables(scratch_database)


def test_models_and_migrations_agree(test_database: str) -> None:
    """Autogenerate finds nothing to do: every model change came with a migration."""

    differences: list[object] = []

    def compare(connection: Connection) -> None:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences.extend(compare_metadata(context, Base.metadata))

    async def run() -> None:
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(test_database)
        async with engine.connect() as connection:
            await connection.run_sync(compare)
        await engine.dispose()

    run_outside_loop(lambda: asyncio.run(run()))
    assert differences == []
