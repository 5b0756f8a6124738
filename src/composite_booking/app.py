"""The FastAPI application: shared clients are made in the lifespan and injected through `app.state`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from redis.asyncio import Redis

from composite_booking import __version__
from composite_booking.api import branches, health, services, staff, templates
from composite_booking.api.problems import PROBLEM_MEDIA_TYPE, Problem, install_problem_handlers
from composite_booking.config import Settings, get_settings
from composite_booking.db.session import create_engine, create_session_factory

API_DESCRIPTION = """\
Books **composite appointments**: services made of several segments with pauses between them, where the
staff member may serve other customers during the pauses (pause policy `free`/`flexible`) or is held
(`blocked`/`never`). Every error is `application/problem+json` (RFC 9457); a 422 names each invalid field.
Authenticate with the company's API key: `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        redis = Redis.from_url(settings.redis_url) if settings.redis_url else None
        app.state.settings = settings
        app.state.engine = engine
        app.state.session_factory = create_session_factory(engine)
        app.state.redis = redis
        try:
            yield
        finally:
            if redis is not None:
                await redis.aclose()
            await engine.dispose()

    app = FastAPI(
        title="composite-booking",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    for module in (health, branches, staff, services, templates):
        app.include_router(module.router)
    _register_problem_schema(app)
    return app


def _register_problem_schema(app: FastAPI) -> None:
    """Every error in the document is a `Problem` (problem+json), FastAPI's default 422 included."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = original()
            schemas = schema.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
            schemas["FieldError"] = problem.pop("$defs")["FieldError"]
            schemas["Problem"] = problem
            schemas.pop("HTTPValidationError", None)
            schemas.pop("ValidationError", None)
            problem_content = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        if status.startswith(("4", "5")):
                            response["content"] = problem_content
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
