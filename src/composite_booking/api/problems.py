"""RFC 9457 problem details: one renderer for every error, and the `responses=` each route declares."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from composite_booking.domain.errors import FieldProblem, InvalidInput, ServiceError, Unauthorized

PROBLEM_MEDIA_TYPE = "application/problem+json"
_TYPE_BASE = "https://composite-booking.dev/problems/"

log = logging.getLogger(__name__)


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending input, e.g. `segments[1].duration_min`.")
    message: str


class Problem(BaseModel):
    """An error response (`application/problem+json`, RFC 9457)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = Field(default=None, description="Present on 422: every invalid field.")


def problem_response(
    request: Request,
    *,
    status: int,
    title: str,
    type_slug: str,
    detail: str,
    errors: list[FieldProblem] | None = None,
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": _TYPE_BASE + type_slug,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = [{"field": e.field, "message": e.message} for e in errors]
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


def _location_to_field(location: tuple[int | str, ...]) -> str:
    """`("body", "segments", 1, "duration_min")` → `segments[1].duration_min`."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    field = ""
    for part in parts:
        if isinstance(part, int):
            field += f"[{part}]"
        else:
            field += f".{part}" if field else str(part)
    return field or str(location[0] if location else "body")


def _validation_problems(exc: RequestValidationError) -> list[FieldProblem]:
    problems = []
    for error in exc.errors():
        message = str(error.get("msg", "invalid value"))
        problems.append(FieldProblem(_location_to_field(tuple(error.get("loc", ()))), message))
    return problems


def install_problem_handlers(app: FastAPI) -> None:
    async def on_service_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ServiceError)
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthorized) else None
        errors = exc.problems if isinstance(exc, InvalidInput) else None
        if exc.status >= 500:
            log.warning("request failed with %s: %s", exc.status, exc.detail)
        return problem_response(
            request,
            status=exc.status,
            title=exc.title,
            type_slug=exc.type_slug,
            detail=exc.detail,
            errors=errors,
            extra=exc.extra,
            headers=headers,
        )

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        problems = _validation_problems(exc)
        return problem_response(
            request,
            status=422,
            title=InvalidInput.title,
            type_slug=InvalidInput.type_slug,
            detail="; ".join(f"{p.field}: {p.message}" for p in problems),
            errors=problems,
        )

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem_response(
            request,
            status=exc.status_code,
            title=str(exc.detail) if exc.status_code != 404 else "Not found",
            type_slug="http-" + str(exc.status_code),
            detail=str(exc.detail),
            headers=dict(exc.headers) if exc.headers else None,
        )

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            request,
            status=500,
            title="Internal error",
            type_slug="internal-error",
            detail="An unexpected error occurred; it has been logged.",
        )

    app.add_exception_handler(ServiceError, on_service_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(Exception, on_unexpected)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The `responses=` entry of a route: each listed status documented as a problem+json body."""
    descriptions = {
        400: "Bad request",
        401: "Missing or invalid API key",
        404: "Not found (or owned by another company)",
        409: "Conflict",
        422: "Invalid input; `errors` names every field",
        429: "Too many requests",
        502: "Cal.com answered with an error",
        503: "A dependency is unavailable",
        504: "Cal.com did not answer in time; the outcome is being resolved",
    }
    return {
        status: {
            "description": descriptions.get(status, "Error"),
            "content": {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
