"""`composite-booking` command line: serve, migrate, demo, company create, openapi."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from composite_booking.config import Settings, get_settings

if TYPE_CHECKING:
    from composite_booking.calcom.sync import EventTypeSync
    from composite_booking.runtime import Runtime

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

    calcom = commands.add_parser("calcom", help="Cal.com event types: sync and drift")
    calcom_commands = calcom.add_subparsers(title="calcom commands")
    sync = calcom_commands.add_parser("sync", help="create/update/delete the hidden segment event types")
    sync.add_argument("--company", type=int, help="only this company (default: all)")
    sync.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
    sync.set_defaults(handler=_calcom_sync)
    drift = calcom_commands.add_parser("drift", help="compare event types with Cal.com (exit 1 on drift)")
    drift.add_argument("--company", type=int, help="only this company (default: all)")
    drift.add_argument("--repair", action="store_true", help="restore the desired state where it drifted")
    drift.set_defaults(handler=_calcom_drift)

    recover = commands.add_parser(
        "recover", help="finish or compensate booking sagas whose driver died (one pass; `serve` repeats it)"
    )
    recover.set_defaults(handler=_recover)

    sandbox = commands.add_parser("calcom-sandbox", help="run the bundled Cal.com sandbox standalone")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--empty", action="store_true", help="start without the demo salon")
    sandbox.add_argument("--api-key", help="the demo admin's API key (default: a new random one)")
    sandbox.set_defaults(handler=_calcom_sandbox)

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
    from composite_booking.demo import run_demo

    run_demo(host=args.host, port=args.port, data_dir=args.data_dir.resolve())
    return 0


def _calcom_sync(args: argparse.Namespace) -> int:
    async def run() -> int:
        async with _calcom_tools() as sync:
            report = await sync.sync_company(args.company, dry_run=args.dry_run)
        verb = "would be" if args.dry_run else "were"
        print(
            f"event types that {verb} created: {report.created}, updated: {report.updated}, "
            f"deleted: {report.deleted}; unchanged: {report.unchanged}"
        )
        for error in report.errors:
            print(f"error: {error}", file=sys.stderr)
        return 1 if report.errors else 0

    return asyncio.run(run())


def _calcom_drift(args: argparse.Namespace) -> int:
    async def run() -> int:
        async with _calcom_tools() as sync:
            report = await sync.detect_drift(args.company)
            print(f"checked {report.checked} event types; {len(report.drifted)} drifted")
            for drift in report.drifted:
                print(json.dumps(drift, ensure_ascii=False))
            for error in report.errors:
                print(f"error: {error}", file=sys.stderr)
            if args.repair and report.drifted:
                repaired = await sync.repair_drift(args.company)
                print(f"repaired: {repaired.updated} updated, {repaired.created} recreated")
                for error in repaired.errors:
                    print(f"error: {error}", file=sys.stderr)
                return 1 if repaired.errors or report.errors else 0
        return 1 if report.errors or (report.drifted and not args.repair) else 0

    return asyncio.run(run())


@asynccontextmanager
async def _calcom_runtime() -> AsyncIterator[Runtime]:
    """The process's runtime, as `serve` builds it (workers not started), for a command that needs Cal.com."""
    from composite_booking.runtime import open_runtime

    settings = get_settings()
    if not settings.calcom_api_key:
        raise SystemExit("CALCOM_API_KEY is not set (and CALCOM_BASE_URL, unless it is https://api.cal.com)")
    async with open_runtime(settings) as runtime:
        yield runtime


@asynccontextmanager
async def _calcom_tools() -> AsyncIterator[EventTypeSync]:
    async with _calcom_runtime() as runtime:
        assert runtime.event_type_sync is not None
        yield runtime.event_type_sync


def _recover(_: argparse.Namespace) -> int:
    async def run() -> int:
        async with _calcom_runtime() as runtime:
            assert runtime.saga_recovery is not None
            report = await runtime.saga_recovery.run_once()
        print(report)
        return 1 if report.still_open else 0

    return asyncio.run(run())


def _calcom_sandbox(args: argparse.Namespace) -> int:
    from composite_booking.calcom.sandbox import run_standalone

    run_standalone(args.host, args.port, not args.empty, api_key=args.api_key)
    return 0
