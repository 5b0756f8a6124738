"""The FastAPI application: the lifespan opens the process's `Runtime` and publishes it on `app.state`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from composite_booking import __version__
from composite_booking.api import availability as availability_api
from composite_booking.api import bookings, branches, calcom, health, services, staff, templates
from composite_booking.api.problems import PROBLEM_MEDIA_TYPE, Problem, install_problem_handlers
from composite_booking.config import Settings, get_settings
from composite_booking.runtime import open_runtime

API_DESCRIPTION = """\
Books **composite appointments**: services made of several segments with pauses between them, where the
staff member may serve other customers during the pauses (pause policy `free`/`flexible`) or is held
(`blocked`/`never`). Every error is `application/problem+json` (RFC 9457); a 422 names each invalid field.
Authenticate with the company's API key: `Authorization: Bearer <key>`.
"""


def create_app(settings: Settings | None = None, *, calcom_http: httpx.AsyncClient | None = None) -> FastAPI:
    """`calcom_http` replaces the Cal.com HTTP client (the demo and tests pass one bound to the sandbox)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_runtime(settings, calcom_http=calcom_http) as runtime:
            runtime.publish(app.state)
            if not settings.workers_enabled:
                yield
                return
            async with runtime.background_work():
                yield

    app = FastAPI(
        title="composite-booking",
        version=__version__,
        description=API_DESCRIPTION,
        lifespan=lifespan,
    )
    install_problem_handlers(app)
    for module in (health, branches, staff, services, templates, calcom, availability_api, bookings):
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
