"""The demo salon seeded by `composite-booking demo` (the services of the original system, same ids)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import uvicorn
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.app import create_app
from composite_booking.calcom.client import CalcomClient
from composite_booking.calcom.event_types import SyncReport
from composite_booking.calcom.sync import EventTypeSync
from composite_booking.config import Settings
from composite_booking.db.migrate import upgrade
from composite_booking.db.models import Branch, Service, Staff, StaffService
from composite_booking.db.repositories.companies import CompanyRepository
from composite_booking.db.session import create_engine, create_session_factory
from composite_booking.demo_calendar import SANDBOX_URL, DemoCalendar, open_demo_calendar
from composite_booking.domain.segments import PausePolicy, Segment, segment_to_json
from composite_booking.embedded import start_embedded_postgres

DEMO_COMPANY = "Salon Demo"
DEMO_TIME_ZONE = "Europe/Berlin"
DEMO_STAFF = (
    ("Emma Williams", "emma@salon-demo.example", ["Emma", "Frau Williams"]),
    ("Fabian Spitzer", "fabian@salon-demo.example", ["Fabian", "Herr Spitzer"]),
    ("David Martinez", "david@salon-demo.example", ["David", "Herr Martinez"]),
)
_RESCHEDULE = {"cutoff_hours": 24, "max_changes": 3}


def _demo_services() -> list[tuple[int | None, str, bool, PausePolicy, Decimal, list[Segment]]]:
    return [
        (
            177,
            "Ansatzfärbung, waschen, schneiden, föhnen",
            True,
            PausePolicy.FREE,
            Decimal("85.00"),
            [
                Segment("A", "Ansatzfärbung", 30, 30),
                Segment("B", "Waschen", 15),
                Segment("C", "Schneiden", 30, 15),
                Segment("D", "Föhnen", 30),
            ],
        ),
        (
            178,
            "Ansatz, Längenausgleich, waschen, schneiden, föhnen",
            True,
            PausePolicy.FREE,
            Decimal("85.00"),
            [
                Segment("A", "Ansatz und Längenausgleich", 40, 30),
                Segment("B", "Waschen", 15),
                Segment("C", "Schneiden", 40, 15),
                Segment("D", "Föhnen", 30),
            ],
        ),
        (
            42,
            "Herrenhaarschnitt",
            True,
            PausePolicy.BLOCKED,
            Decimal("45.00"),
            [
                Segment("A", "Beratung und Waschen", 45, 10),
                Segment("B", "Schneiden", 60, 15),
                Segment("C", "Styling", 20),
            ],
        ),
        (None, "Haarschnitt", False, PausePolicy.FREE, Decimal("35.00"), [Segment("A", "Haarschnitt", 30)]),
    ]


async def demo_is_seeded(session: AsyncSession) -> bool:
    return (await session.scalar(select(func.count()).select_from(Service).where(Service.id == 177))) == 1


async def seed_demo_salon(
    session: AsyncSession, *, calcom_team_id: int | None = None, calcom_user_ids: dict[str, int] | None = None
) -> str:
    """Create the demo company, branch, staff and services; return the company's new API key.

    With the Cal.com team and user ids (by staff name), the branch and staff are linked to Cal.com.
    """
    calcom_user_ids = calcom_user_ids or {}
    companies = CompanyRepository(session)
    company = await companies.create(DEMO_COMPANY)
    branch = Branch(
        company_id=company.id,
        name="Salon Demo Berlin",
        timezone=DEMO_TIME_ZONE,
        calcom_team_id=calcom_team_id,
    )
    session.add(branch)
    await session.flush()

    staff = [
        Staff(
            company_id=company.id,
            branch_id=branch.id,
            name=name,
            email=email,
            aliases=aliases,
            calcom_user_id=calcom_user_ids.get(name),
        )
        for name, email, aliases in DEMO_STAFF
    ]
    session.add_all(staff)
    services = [
        Service(
            id=service_id,
            company_id=company.id,
            branch_id=branch.id,
            name=name,
            composite=composite,
            segments=[segment_to_json(s) for s in segments],
            pause_bookable_policy=policy.value,
            reschedule_policy=dict(_RESCHEDULE),
            price=price,
        )
        for service_id, name, composite, policy, price, segments in _demo_services()
    ]
    # The fixed ids must exist before the sequence hands out the id of the service without one.
    session.add_all([s for s in services if s.id is not None])
    await session.flush()
    await session.execute(
        text("SELECT setval(pg_get_serial_sequence('services', 'id'), (SELECT max(id) FROM services))")
    )
    session.add_all([s for s in services if s.id is None])
    await session.flush()
    session.add_all(
        StaffService(staff_id=person.id, service_id=service.id, company_id=company.id)
        for person in staff
        for service in services
    )
    await session.flush()
    return await companies.issue_api_key(company.id)


async def seed_demo_once(settings: Settings, calendar: DemoCalendar) -> str | None:
    """The new API key when this call seeded the demo, None when it was seeded before."""
    engine = create_engine(settings)
    try:
        async with create_session_factory(engine)() as session, session.begin():
            if await demo_is_seeded(session):
                return None
            return await seed_demo_salon(
                session, calcom_team_id=calendar.team_id, calcom_user_ids=calendar.user_ids_by_name
            )
    finally:
        await engine.dispose()


def demo_api_key(settings: Settings, calendar: DemoCalendar, key_file: Path) -> str:
    """Seed once; the demo's key is kept in the data directory so a restart prints the same one."""
    api_key = asyncio.run(seed_demo_once(settings, calendar))
    if api_key is None:
        if not key_file.exists():
            raise SystemExit(f"the demo database is seeded but {key_file} is missing; remove the data dir")
        return key_file.read_text(encoding="utf-8").strip()
    key_file.write_text(api_key + "\n", encoding="utf-8")
    key_file.chmod(0o600)
    return api_key


async def sync_demo_event_types(settings: Settings, calendar: DemoCalendar) -> SyncReport:
    """Create (or confirm) every hidden segment event type before the first request arrives."""
    engine = create_engine(settings)
    try:
        async with calendar.http_client() as http:
            client = CalcomClient(http, api_key=calendar.api_key, request_timeout_s=settings.calcom_timeout_s)
            return await EventTypeSync(create_session_factory(engine), client).sync_company()
    finally:
        await engine.dispose()


def run_demo(*, host: str, port: int, data_dir: Path) -> None:
    """Embedded PostgreSQL + the Cal.com sandbox + the demo salon, served until interrupted."""
    print(f"Starting embedded PostgreSQL in {data_dir} ...", flush=True)
    database_url = start_embedded_postgres(data_dir)
    calendar = open_demo_calendar(data_dir, port=port)
    settings = Settings(
        database_url=database_url,
        environment="demo",
        calcom_api_key=calendar.api_key,
        calcom_base_url=SANDBOX_URL,
        calcom_webhook_secret=calendar.webhook_secret,
        # Without SMTP_HOST, customer e-mails (with their ICS) land here as .eml files.
        notifications_folder=data_dir / "mail",
    )
    upgrade(settings.database_url)
    api_key = demo_api_key(settings, calendar, data_dir / "demo-api-key")
    report = asyncio.run(sync_demo_event_types(settings, calendar))
    app = create_app(settings, calcom_http=calendar.http_client())
    calendar.deliver_webhooks_to(app)

    base = f"http://{host}:{port}"
    print()
    print("Demo salon ready: services 177, 178, 42 and a 30-minute Haarschnitt; staff Emma, Fabian, David.")
    synced = report.created + report.updated + report.unchanged
    print(
        f"Cal.com sandbox (in-process, saved in {calendar.state_file.name}): "
        f"{synced} event types synced (segments, and the held pauses of service 42)."
    )
    print(f"API key: {api_key}")
    print(f'Try:  curl -H "Authorization: Bearer {api_key}" {base}/v1/services')
    if not settings.smtp_host:
        print(f"E-mails to customers are written to {data_dir / 'mail'}")
    print(f"Docs: {base}/docs", flush=True)
    uvicorn.run(app, host=host, port=port, log_level=settings.log_level.lower())
