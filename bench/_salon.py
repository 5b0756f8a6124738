"""The salon both end-to-end benchmarks book against: stylists in the Cal.com sandbox, and the same people,
branch and 4-segment colour service created through our API. Imported by the scripts in this folder."""

from __future__ import annotations

from typing import Any

import asyncpg
import httpx

from composite_booking.calcom.sandbox import CalcomSandbox, MembershipRole

HOURS = (
    {
        "days": ["Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        "startTime": "09:00",
        "endTime": "18:00",
    },
)
SEGMENTS: list[dict[str, Any]] = [
    {"key": "A", "name": "Färben", "duration_min": 30, "gap_after_min": 30},
    {"key": "B", "name": "Waschen", "duration_min": 15},
    {"key": "C", "name": "Schneiden", "duration_min": 30, "gap_after_min": 15},
    {"key": "D", "name": "Föhnen", "duration_min": 30},
]


async def admin(statement: str) -> None:
    """One statement on the machine's PostgreSQL (creating and dropping the scratch database)."""
    connection = await asyncpg.connect(host="127.0.0.1", port=5432, user="postgres", database="postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def seed_calcom(sandbox: CalcomSandbox, staff: int) -> tuple[int, list[int], str]:
    """A team with `staff` stylists working Tuesday to Saturday, 9 to 18: (team id, user ids, API key)."""
    team = sandbox.add_team(name="Bench salon", slug="bench-salon")
    owner = sandbox.add_user(name="Owner", email="owner@bench.example", username="owner")
    sandbox.add_membership(team.id, owner.id, MembershipRole.OWNER)
    users = []
    for i in range(staff):
        user = sandbox.add_user(name=f"Stylist {i}", email=f"s{i}@bench.example", username=f"stylist-{i}")
        sandbox.add_schedule(user.id, time_zone="Europe/Berlin", availability=HOURS)
        sandbox.add_membership(team.id, user.id, MembershipRole.MEMBER)
        users.append(user.id)
    return team.id, users, sandbox.issue_api_key(owner.id)


async def set_up_salon(client: httpx.AsyncClient, team_id: int, users: list[int]) -> tuple[int, list[int]]:
    """Branch, staff and the colour service through our API: (service id, staff ids)."""
    branch = (
        await client.post(
            "/v1/branches", json={"name": "B", "timezone": "Europe/Berlin", "calcom_team_id": team_id}
        )
    ).json()
    staff_ids = []
    for i, user_id in enumerate(users):
        person = await client.post(
            "/v1/staff", json={"branch_id": branch["id"], "name": f"Stylist {i}", "calcom_user_id": user_id}
        )
        staff_ids.append(person.json()["id"])
    service = (
        await client.post(
            "/v1/services",
            json={
                "branch_id": branch["id"],
                "name": "Ansatzfärbung",
                "composite": True,
                "segments": SEGMENTS,
                "staff_ids": staff_ids,
            },
        )
    ).json()
    return int(service["id"]), staff_ids
