"""`composite-booking` command line: serve, migrate, demo, company create, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from composite_booking.config import Settings, get_settings

DEFAULT_DEMO_DIR = Path(".composite-booking-demo")
OPENAPI_PATH = Path("openapi/openapi.json")


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=os.environ.get("LOG_LEVEL", "INFO"), format="%(levelname)s %(name)s: %(message)s"
    )
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 2
    result: int = handler(args)
    return result


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="composite-booking", description=__doc__)
    commands = parser.add_subparsers(title="commands")

    serve = commands.add_parser("serve", help="run the HTTP API (uvicorn)")
    serve.add_argument("--host", default="0.0.0.0")  # noqa: S104 (a container listens on all interfaces)
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--migrate", action="store_true", help="apply migrations before serving")
    serve.set_defaults(handler=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations up to head")
    migrate.set_defaults(handler=_migrate)

    demo = commands.add_parser("demo", help="embedded PostgreSQL + demo salon, served on 127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--data-dir", type=Path, default=DEFAULT_DEMO_DIR)
    demo.set_defaults(handler=_demo)

    company = commands.add_parser("company", help="manage companies (tenants)")
    company_commands = company.add_subparsers(title="company commands")
    create = company_commands.add_parser("create", help="create a company and print its API key once")
    create.add_argument("name")
    create.set_defaults(handler=_company_create)

    openapi = commands.add_parser("openapi", help="write openapi/openapi.json from the app")
    openapi.add_argument("--check", action="store_true", help="fail if the file differs from the app")
    openapi.add_argument("--output", type=Path, default=OPENAPI_PATH)
    openapi.set_defaults(handler=_openapi)
    return parser


def _serve(args: argparse.Namespace) -> int:
    settings = get_settings()
    if args.migrate:
        _run_migrations(settings)
    _run_server(settings, host=args.host, port=args.port)
    return 0


def _migrate(_: argparse.Namespace) -> int:
    _run_migrations(get_settings())
    return 0


def _run_migrations(settings: Settings) -> None:
    from composite_booking.db.migrate import upgrade

    upgrade(settings.database_url)


def _run_server(settings: Settings, *, host: str, port: int) -> None:
    import uvicorn

    from composite_booking.app import create_app

    uvicorn.run(create_app(settings), host=host, port=port, log_level=settings.log_level.lower())


def _company_create(args: argparse.Namespace) -> int:
    async def create() -> tuple[int, str]:
        from composite_booking.db.repositories.companies import CompanyRepository
        from composite_booking.db.session import create_engine, create_session_factory

        engine = create_engine(get_settings())
        try:
            async with create_session_factory(engine)() as session, session.begin():
                companies = CompanyRepository(session)
                company = await companies.create(args.name)
                return company.id, await companies.issue_api_key(company.id)
        finally:
            await engine.dispose()

    company_id, api_key = asyncio.run(create())
    print(f"Company {company_id} created: {args.name}")
    print(f"API key: {api_key}")
    print("The key is shown only this once; store it now.")
    return 0


def _openapi(args: argparse.Namespace) -> int:
    from composite_booking.app import create_app

    rendered = render_openapi(create_app(Settings()).openapi())
    path: Path = args.output
    if args.check:
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != rendered:
            print(f"{path} is out of date: run `composite-booking openapi`", file=sys.stderr)
            return 1
        print(f"{path} matches the app")
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(rendered, encoding="utf-8")
    print(f"wrote {path}")
    return 0


def render_openapi(document: dict[str, object]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def _demo(args: argparse.Namespace) -> int:
    from composite_booking.embedded import start_embedded_postgres

    data_dir: Path = args.data_dir.resolve()
    print(f"Starting embedded PostgreSQL in {data_dir} ...", flush=True)
    database_url = start_embedded_postgres(data_dir)
    settings = Settings(database_url=database_url, environment="demo")
    _run_migrations(settings)
    api_key = _demo_api_key(settings, data_dir / "demo-api-key")
    base = f"http://{args.host}:{args.port}"
    print()
    print("Demo salon ready: services 177, 178, 42 and a 30-minute Haarschnitt; staff Emma, Fabian, David.")
    print(f"API key: {api_key}")
    print(f'Try:  curl -H "Authorization: Bearer {api_key}" {base}/v1/services')
    print(f"Docs: {base}/docs", flush=True)
    _run_server(settings, host=args.host, port=args.port)
    return 0


def _demo_api_key(settings: Settings, key_file: Path) -> str:
    """Seed once; the demo's key is kept in the data directory so a restart prints the same one."""
    api_key = asyncio.run(_seed_demo_once(settings))
    if api_key is None:
        if not key_file.exists():
            raise SystemExit(f"the demo database is seeded but {key_file} is missing; remove the data dir")
        return key_file.read_text(encoding="utf-8").strip()
    key_file.write_text(api_key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    return api_key


async def _seed_demo_once(settings: Settings) -> str | None:
    """The new API key when this call seeded the demo, None when it was seeded before."""
    from composite_booking.db.session import create_engine, create_session_factory
    from composite_booking.demo import demo_is_seeded, seed_demo_salon

    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            if await demo_is_seeded(session):
                return None
            return await seed_demo_salon(session)
    finally:
        await engine.dispose()
