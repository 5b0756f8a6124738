"""Domain errors carry their HTTP status; one handler renders them all as problem+json."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input field: `field` is a dotted path such as `segments[1].duration_min`."""

    field: str
    message: str


class ServiceError(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    type_slug: ClassVar[str] = "internal-error"

    def __init__(self, detail: str, *, extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra or {}


class NotFound(ServiceError):
    status = 404
    title = "Not found"
    type_slug = "not-found"

    def __init__(self, resource: str, resource_id: object) -> None:
        super().__init__(f"{resource} {resource_id} does not exist")
        self.resource = resource


class Unauthorized(ServiceError):
    status = 401
    title = "Unauthorized"
    type_slug = "unauthorized"


class Conflict(ServiceError):
    status = 409
    title = "Conflict"
    type_slug = "conflict"


class InvalidInput(ServiceError):
    """422 naming every offending field."""

    status = 422
    title = "Invalid input"
    type_slug = "invalid-input"

    def __init__(self, problems: list[FieldProblem]) -> None:
        detail = "; ".join(f"{p.field}: {p.message}" for p in problems)
        super().__init__(detail)
        self.problems = problems

    @classmethod
    def single(cls, field: str, message: str) -> InvalidInput:
        return cls([FieldProblem(field, message)])
