"""Dependencies as `Annotated` aliases, so route signatures read as plain types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from composite_booking.db.models import Company, Service
from composite_booking.db.repositories.catalog import (
    BranchRepository,
    ServiceRepository,
    StaffRepository,
)
from composite_booking.db.repositories.companies import CompanyRepository
from composite_booking.db.repositories.event_map import EventMapRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.domain.booking.service import BookingService
from composite_booking.domain.catalog import CatalogService, Pagination
from composite_booking.domain.errors import Unauthorized
from composite_booking.jobs.handlers import enqueue_service_sync


def _session_factory(request: Request) -> async_sessionmaker[AsyncSession]:
    factory: async_sessionmaker[AsyncSession] = request.app.state.session_factory
    return factory


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One unit of work per request: committed when the route returns, rolled back when it raises.

    Used with `scope="function"` so the commit happens before the response is sent: a failed commit
    becomes an error response, never a success for data that was not stored.
    """
    async with _session_factory(request)() as session, session.begin():
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="The company's API key: `Authorization: Bearer <key>`.")


async def get_company(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Company:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("send the company's API key as `Authorization: Bearer <key>`")
    company = await CompanyRepository(session).company_for_api_key(credentials.credentials)
    if company is None:
        raise Unauthorized("the API key is not valid")
    return company


CompanyDep = Annotated[Company, Depends(get_company)]


def get_catalog(session: SessionDep, company: CompanyDep) -> CatalogService:
    outbox = OutboxRepository(session)

    async def sync_to_calcom(service: Service) -> None:
        await enqueue_service_sync(outbox, service)

    return CatalogService(
        BranchRepository(session, company.id),
        StaffRepository(session, company.id),
        ServiceRepository(session, company.id),
        on_service_changed=sync_to_calcom,
    )


CatalogDep = Annotated[CatalogService, Depends(get_catalog)]


def get_event_map(session: SessionDep, company: CompanyDep) -> EventMapRepository:
    return EventMapRepository(session, company.id)


EventMapDep = Annotated[EventMapRepository, Depends(get_event_map)]


def get_pagination(
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
    offset: Annotated[int, Query(ge=0, description="Items to skip.")] = 0,
) -> Pagination:
    return Pagination(limit=limit, offset=offset)


PaginationDep = Annotated[Pagination, Depends(get_pagination)]


async def get_company_briefly(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Company:
    """The company, authenticated in a transaction of its own that ends at once.

    For routes that call Cal.com (bookings): `CompanyDep` keeps the request's transaction open until the
    route returns, and no HTTP call to Cal.com may happen inside an open transaction.
    """
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise Unauthorized("send the company's API key as `Authorization: Bearer <key>`")
    async with _session_factory(request)() as session:
        company = await CompanyRepository(session).company_for_api_key(credentials.credentials)
    if company is None:
        raise Unauthorized("the API key is not valid")
    return company


CompanyBriefDep = Annotated[Company, Depends(get_company_briefly)]


def get_bookings(request: Request) -> BookingService:
    service: BookingService = request.app.state.bookings
    return service


BookingsDep = Annotated[BookingService, Depends(get_bookings)]
