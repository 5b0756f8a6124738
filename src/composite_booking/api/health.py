from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from composite_booking.api.problems import problem_response, problem_responses

router = APIRouter(tags=["health"])

CHECK_TIMEOUT_S = 2.0


class Health(BaseModel):
    status: str
    checks: dict[str, str] = {}


@router.get("/healthz")
async def liveness() -> Health:
    """The process is up (no dependency is checked: a restart would not fix a database outage)."""
    return Health(status="ok")


@router.get("/readyz", responses=problem_responses(503), response_model=Health)
async def readiness(request: Request) -> Health | JSONResponse:
    """Ready to serve: the database answers, and Redis does when it is configured."""
    checks: dict[str, str] = {}
    engine: AsyncEngine = request.app.state.engine
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S), engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is reported, not raised
        checks["database"] = f"error: {type(exc).__name__}"
    redis = request.app.state.redis
    if redis is not None:
        try:
            async with asyncio.timeout(CHECK_TIMEOUT_S):
                await redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {type(exc).__name__}"
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        return problem_response(
            request,
            status=503,
            title="Not ready",
            type_slug="not-ready",
            detail="not ready: " + ", ".join(f"{name} ({checks[name]})" for name in failing),
            extra={"checks": checks},
        )
    return Health(status="ok", checks=checks)
