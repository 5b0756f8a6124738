"""Companies and their API keys (the only queries not scoped by a company: they find the company)."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from composite_booking.db.models import ApiKey, Company

API_KEY_PREFIX = "cb_"


def hash_api_key(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


class CompanyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def create(self, name: str) -> Company:
        company = Company(name=name)
        self._session.add(company)
        await self._session.flush()
        return company

    async def issue_api_key(self, company_id: int) -> str:
        """Store only the digest; the raw key is returned once and never again."""
        raw_key = new_api_key()
        self._session.add(
            ApiKey(company_id=company_id, key_prefix=raw_key[:10], key_hash=hash_api_key(raw_key))
        )
        await self._session.flush()
        return raw_key

    async def company_for_api_key(self, raw_key: str) -> Company | None:
        statement = (
            select(Company)
            .join(ApiKey, ApiKey.company_id == Company.id)
            .where(ApiKey.key_hash == hash_api_key(raw_key), ApiKey.revoked_at.is_(None))
        )
        return (await self._session.execute(statement)).scalar_one_or_none()
