"""Readiness reports each dependency; a dead one makes the service not ready (503 problem+json)."""

from __future__ import annotations

import httpx
import pytest

from composite_booking.app import create_app
from composite_booking.config import Settings


@pytest.fixture
def redis_url() -> str:
    return "redis://127.0.0.1:6379/15"


async def _ready(settings: Settings) -> httpx.Response:
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client,
    ):
        return await client.get("/readyz")


async def test_ready_with_redis(settings: Settings, redis_url: str) -> None:
    response = await _ready(settings.model_copy(update={"redis_url": redis_url}))
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "redis": "ok"}


async def test_not_ready_when_redis_is_down(settings: Settings) -> None:
    response = await _ready(settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"}))
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["checks"]["database"] == "ok"
    assert problem["checks"]["redis"].startswith("error")
    assert "redis" in problem["detail"]


async def test_not_ready_when_the_database_is_down(settings: Settings) -> None:
    unreachable = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
    response = await _ready(settings.model_copy(update={"database_url": unreachable}))
    assert response.status_code == 503
    assert response.json()["checks"]["database"].startswith("error")
