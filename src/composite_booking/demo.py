"""The demo salon seeded by `composite-booking demo` (the services of the original system, same ids)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.db.models import Branch, Service, Staff, StaffService
from composite_booking.db.repositories.companies import CompanyRepository
from composite_booking.domain.segments import PausePolicy, Segment, segment_to_json

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


async def seed_demo_salon(session: AsyncSession) -> str:
    """Create the demo company, branch, staff and services; return the company's new API key."""
    companies = CompanyRepository(session)
    company = await companies.create(DEMO_COMPANY)
    branch = Branch(company_id=company.id, name="Salon Demo Berlin", timezone=DEMO_TIME_ZONE)
    session.add(branch)
    await session.flush()

    staff = [
        Staff(company_id=company.id, branch_id=branch.id, name=name, email=email, aliases=aliases)
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
