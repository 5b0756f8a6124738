"""Alembic, driven from code: `composite-booking migrate`, the demo, and the tests use the same path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


def migrations_dir() -> Path:
    """Inside an installed wheel the scripts are packaged; in a checkout they live at the repo root."""
    packaged = _PACKAGE_DIR / "_migrations"
    if packaged.is_dir():
        return packaged
    return _PACKAGE_DIR.parent.parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    # Alembic's ini interpolation treats "%" specially.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
