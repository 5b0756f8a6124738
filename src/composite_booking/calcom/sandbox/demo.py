"""The demo salon the embedded mode and the demo start with."""

from __future__ import annotations

from dataclasses import dataclass

from composite_booking.calcom.sandbox.records import MembershipRole
from composite_booking.calcom.sandbox.sandbox import CalcomSandbox

DEMO_TIME_ZONE = "Europe/Berlin"
DEMO_TEAM_NAME = "Salon Demo"
DEMO_TEAM_SLUG = "salon-demo"
DEMO_HOURS = (
    {
        "days": ["Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        "startTime": "09:00",
        "endTime": "18:00",
    },
)
DEMO_STAFF = (
    ("Emma Williams", "emma-williams"),
    ("Fabian Spitzer", "fabian-spitzer"),
    ("David Martinez", "david-martinez"),
)


@dataclass(frozen=True, slots=True)
class DemoSalon:
    team_id: int
    team_slug: str
    admin_user_id: int
    api_key: str
    """Belongs to the salon's OWNER, who is not a stylist (so cancelling needs no host reason)."""
    staff_ids: dict[str, int]
    """Username -> Cal.com user id."""
    schedule_ids: dict[str, int]

    @property
    def emma_id(self) -> int:
        return self.staff_ids["emma-williams"]

    @property
    def fabian_id(self) -> int:
        return self.staff_ids["fabian-spitzer"]

    @property
    def david_id(self) -> int:
        return self.staff_ids["david-martinez"]


def seed_demo_salon(sandbox: CalcomSandbox, *, api_key: str | None = None) -> DemoSalon:
    """Team "Salon Demo", three stylists working Tue-Sat 09:00-18:00 Europe/Berlin, and an admin API key."""
    team = sandbox.add_team(name=DEMO_TEAM_NAME, slug=DEMO_TEAM_SLUG)
    admin = sandbox.add_user(
        name="Salon Demo Admin",
        email="admin@salon-demo.example",
        username="salon-demo-admin",
        time_zone=DEMO_TIME_ZONE,
    )
    sandbox.add_membership(team.id, admin.id, MembershipRole.OWNER)
    staff_ids: dict[str, int] = {}
    schedule_ids: dict[str, int] = {}
    for name, username in DEMO_STAFF:
        email = username.replace("-", ".") + "@salon-demo.example"
        user = sandbox.add_user(name=name, email=email, username=username, time_zone=DEMO_TIME_ZONE)
        schedule = sandbox.add_schedule(
            user.id, time_zone=DEMO_TIME_ZONE, availability=DEMO_HOURS, name="Salon hours"
        )
        sandbox.add_membership(team.id, user.id, MembershipRole.MEMBER)
        staff_ids[username] = user.id
        schedule_ids[username] = schedule.id
    key = sandbox.issue_api_key(admin.id, key=api_key)
    return DemoSalon(team.id, team.slug, admin.id, key, staff_ids, schedule_ids)
