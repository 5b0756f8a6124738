"""openapi/openapi.json is the app's own document, and every route declares its errors."""

from __future__ import annotations

from pathlib import Path

from composite_booking.app import create_app
from composite_booking.cli import OPENAPI_PATH, render_openapi
from composite_booking.config import Settings

ROOT = Path(__file__).resolve().parent.parent


def test_checked_in_document_matches_the_app() -> None:
    expected = render_openapi(create_app(Settings()).openapi())
    actual = (ROOT / OPENAPI_PATH).read_text(encoding="utf-8")
    assert actual == expected, "openapi/openapi.json is stale: run `composite-booking openapi`"


def test_every_route_declares_problem_responses() -> None:
    document = create_app(Settings()).openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            statuses = set(operation["responses"])
            errors = {s for s in statuses if s.startswith(("4", "5"))}
            if path.startswith("/v1/"):
                assert "401" in errors, (method, path)
            for status in errors:
                content = operation["responses"][status]["content"]
                assert list(content) == ["application/problem+json"], (method, path, status)
