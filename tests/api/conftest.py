from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Tenant, create

COLOUR_SEGMENTS = [
    {"key": "A", "name": "Färben", "duration_min": 30, "gap_after_min": 30},
    {"key": "B", "name": "Waschen", "duration_min": 15},
    {"key": "C", "name": "Schneiden", "duration_min": 30, "gap_after_min": 15},
    {"key": "D", "name": "Föhnen", "duration_min": 30},
]


def composite_service(branch_id: int, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "branch_id": branch_id,
        "name": "Ansatzfärbung",
        "composite": True,
        "segments": COLOUR_SEGMENTS,
        "pause_bookable_policy": "free",
        "price": "85.00",
    }
    body.update(overrides)
    return body


@pytest.fixture
async def branch(tenant: Tenant) -> dict[str, Any]:
    return await create(tenant.client, "/v1/branches", {"name": "Mitte", "timezone": "Europe/Berlin"})
