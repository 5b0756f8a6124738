"""A stateful emulator of the Cal.com v2 subset this service uses, for tests, benchmarks and the demo.

Faithful to `reference/calcom-api-v2.md`: envelopes, messages, version routing, rate limits, slot
computation and the availability re-check on booking. Runs in-process (`sandbox.app` is an ASGI app) or
standalone (`run_standalone`). Fault injection lives on `sandbox.faults`.
"""

from composite_booking.calcom.sandbox.clock import Clock, ManualClock, system_clock
from composite_booking.calcom.sandbox.demo import DemoSalon, seed_demo_salon
from composite_booking.calcom.sandbox.errors import (
    MSG_HOST_BUSY,
    MSG_IN_THE_PAST,
    MSG_OUT_OF_BOUNDS,
    MSG_TEAM_HOST_BUSY,
    MSG_THROTTLED,
)
from composite_booking.calcom.sandbox.faults import CallKind, Faults
from composite_booking.calcom.sandbox.ratelimit import RateLimitPolicy
from composite_booking.calcom.sandbox.records import (
    Booking,
    BookingStatus,
    DateOverride,
    EventType,
    MembershipRole,
    Schedule,
    SchedulingType,
    Team,
    User,
    Webhook,
    WeeklyHours,
)
from composite_booking.calcom.sandbox.sandbox import CalcomSandbox
from composite_booking.calcom.sandbox.snapshot import SNAPSHOT_FORMAT, SnapshotError
from composite_booking.calcom.sandbox.standalone import run_standalone
from composite_booking.calcom.sandbox.webhooks import (
    SIGNATURE_HEADER,
    Delivery,
    OutgoingWebhook,
    WebhookSender,
    httpx_sender,
    sign,
)

__all__ = [
    "MSG_HOST_BUSY",
    "MSG_IN_THE_PAST",
    "MSG_OUT_OF_BOUNDS",
    "MSG_TEAM_HOST_BUSY",
    "MSG_THROTTLED",
    "SIGNATURE_HEADER",
    "SNAPSHOT_FORMAT",
    "Booking",
    "BookingStatus",
    "CalcomSandbox",
    "CallKind",
    "Clock",
    "DateOverride",
    "Delivery",
    "DemoSalon",
    "EventType",
    "Faults",
    "ManualClock",
    "MembershipRole",
    "OutgoingWebhook",
    "RateLimitPolicy",
    "Schedule",
    "SchedulingType",
    "SnapshotError",
    "Team",
    "User",
    "Webhook",
    "WebhookSender",
    "WeeklyHours",
    "httpx_sender",
    "run_standalone",
    "seed_demo_salon",
    "sign",
    "system_clock",
]
