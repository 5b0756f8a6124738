"""Webhooks: subscriptions, the default payload (reference §6.2), signing, and delivery off the request path.

Which subscriptions hear a booking event: a user webhook whose owner hosts the booking (as on Cal.com), a
team webhook of the booking's team (made through the Python API; Cal.com creates those in its web app), and,
as a sandbox convenience, a user webhook whose owner is ADMIN/OWNER of the booking's team. The last rule lets
one admin API key subscribe to a whole salon; on real Cal.com use a team or organization webhook for that.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from composite_booking.calcom.sandbox.bookings import BookingChange
from composite_booking.calcom.sandbox.clock import iso_utc, iso_utc_seconds, utc_offset_minutes
from composite_booking.calcom.sandbox.errors import conflict, forbidden, not_found
from composite_booking.calcom.sandbox.records import Booking, BookingStatus, User, Webhook
from composite_booking.calcom.sandbox.state import SandboxState
from composite_booking.calcom.sandbox.validation import BodyChecker

logger = logging.getLogger(__name__)

TRIGGERS = (
    "BOOKING_CREATED", "BOOKING_PAYMENT_INITIATED", "BOOKING_PAID", "BOOKING_RESCHEDULED",
    "BOOKING_REQUESTED", "BOOKING_CANCELLED", "BOOKING_REJECTED", "BOOKING_NO_SHOW_UPDATED",
    "FORM_SUBMITTED", "MEETING_ENDED", "MEETING_STARTED", "RECORDING_READY", "INSTANT_MEETING",
    "RECORDING_TRANSCRIPTION_GENERATED", "OOO_CREATED", "AFTER_HOSTS_CAL_VIDEO_NO_SHOW",
    "AFTER_GUESTS_CAL_VIDEO_NO_SHOW", "FORM_SUBMITTED_NO_EVENT",
)  # fmt: skip
SIGNATURE_HEADER = "X-Cal-Signature-256"
NO_SECRET = "no-secret-provided"  # noqa: S105 - the literal header value Cal.com sends without a secret
_FIELDS = ("subscriberUrl", "active", "triggers", "secret", "payloadTemplate")


# --- subscriptions


def _read_webhook_body(body: Any, *, creating: bool) -> dict[str, Any]:
    check = BodyChecker(body, allowed=_FIELDS)
    url = check.string("subscriberUrl", required=creating, non_empty=True)
    active = check.boolean("active")
    if creating and active is None:
        check.reject("active", "isBoolean", "active must be a boolean value")
    triggers = check.array("triggers", required=creating)
    if triggers is not None and not all(t in TRIGGERS for t in triggers):
        check.reject(
            "triggers",
            "isEnum",
            f"each value in triggers must be one of the following values: {', '.join(TRIGGERS)}",
        )
    secret = check.string("secret")
    template = check.string("payloadTemplate")
    check.finish()
    fields: dict[str, Any] = {}
    for key, value in (
        ("subscriber_url", url),
        ("active", active),
        ("triggers", list(triggers) if triggers is not None else None),
        ("secret", secret),
        ("payload_template", template),
    ):
        if value is not None:
            fields[key] = value
    return fields


def create_user_webhook(state: SandboxState, user: User, body: Any) -> Webhook:
    fields = _read_webhook_body(body, creating=True)
    if any(
        w.user_id == user.id and w.subscriber_url == fields["subscriber_url"] for w in state.webhooks.values()
    ):
        raise conflict("Webhook with this subscriber url already exists for this user")
    webhook = Webhook(
        id=state.next_webhook_id(),
        subscriber_url=fields["subscriber_url"],
        triggers=fields["triggers"],
        active=fields["active"],
        secret=fields.get("secret"),
        payload_template=fields.get("payload_template"),
        user_id=user.id,
    )
    state.webhooks[webhook.id] = webhook
    return webhook


def owned_webhook(state: SandboxState, user: User, webhook_id: int) -> Webhook:
    webhook = state.webhooks.get(webhook_id)
    if webhook is None:
        raise not_found(f"Webhook ({webhook_id}) not found")
    if webhook.user_id != user.id:
        raise forbidden(f"User ({user.id}) is not the owner of webhook ({webhook_id})")
    return webhook


def update_user_webhook(state: SandboxState, user: User, webhook_id: int, body: Any) -> Webhook:
    webhook = owned_webhook(state, user, webhook_id)
    for key, value in _read_webhook_body(body, creating=False).items():
        setattr(webhook, key, value)
    return webhook


def webhook_output(webhook: Webhook) -> dict[str, Any]:
    output: dict[str, Any] = {
        "id": webhook.id,
        "subscriberUrl": webhook.subscriber_url,
        "triggers": list(webhook.triggers),
        "active": webhook.active,
        "payloadTemplate": webhook.payload_template,
    }
    if webhook.user_id is not None:
        output["userId"] = webhook.user_id
    if webhook.team_id is not None:
        output["teamId"] = webhook.team_id
    if webhook.secret is not None:
        output["secret"] = webhook.secret
    return output


def subscribers(state: SandboxState, booking: Booking, trigger: str) -> list[Webhook]:
    def listens(webhook: Webhook) -> bool:
        if not webhook.active or trigger not in webhook.triggers:
            return False
        if webhook.team_id is not None:
            return webhook.team_id == booking.team_id
        if webhook.user_id is None:
            return False
        if webhook.user_id in booking.busy_user_ids:
            return True
        return booking.team_id is not None and state.is_team_admin(booking.team_id, webhook.user_id)

    return [w for w in state.webhooks.values() if listens(w)]


# --- payload


def _person(user: User, at: datetime) -> dict[str, Any]:
    return {
        "id": user.id,
        "name": user.name,
        "email": user.email,
        "username": user.username,
        "timeZone": user.time_zone,
        "language": {"locale": "en"},
        "timeFormat": "h:mma",
        "utcOffset": utc_offset_minutes(at, user.time_zone),
    }


def booking_payload(state: SandboxState, change: BookingChange) -> dict[str, Any]:
    """The internal CalendarEvent Cal.com posts as `payload` (default template)."""
    booking = change.booking
    organizer = state.users[booking.organizer_id]
    event_type = state.event_types.get(booking.event_type_id) if booking.event_type_id else None
    length = int((booking.end - booking.start).total_seconds() // 60)
    payload: dict[str, Any] = {
        "type": booking.event_type_slug,
        "title": booking.title,
        "description": booking.description,
        "additionalNotes": "",
        "customInputs": {},
        "startTime": iso_utc_seconds(booking.start),
        "endTime": iso_utc_seconds(booking.end),
        "organizer": _person(organizer, booking.start),
        "responses": {
            "name": {"label": "your_name", "value": booking.responses.get("name")},
            "email": {"label": "email_address", "value": booking.responses.get("email")},
        },
        "userFieldsResponses": {},
        "attendees": [
            {
                "email": a.email,
                "name": a.name,
                "timeZone": a.time_zone,
                "language": {"locale": a.language},
                "utcOffset": utc_offset_minutes(booking.start, a.time_zone),
            }
            for a in booking.attendees
        ],
        "location": booking.location,
        "destinationCalendar": None,
        "hideCalendarNotes": False,
        "requiresConfirmation": None,
        "eventTypeId": booking.event_type_id,
        "seatsShowAttendees": True,
        "seatsPerTimeSlot": None,
        "uid": booking.uid,
        "eventTitle": event_type.title if event_type else booking.event_type_slug,
        "eventDescription": event_type.description if event_type else "",
        "price": 0,
        "currency": "usd",
        "length": length,
        "bookingId": booking.id,
        "metadata": {"videoCallUrl": booking.location, **booking.metadata}
        if booking.location and booking.location.startswith("https://app.cal.com/video/")
        else dict(booking.metadata),
        "status": "CANCELLED" if booking.status is BookingStatus.CANCELLED else "ACCEPTED",
    }
    if event_type is not None:
        team = state.teams.get(event_type.team_id)
        if team is not None:
            payload["team"] = {"id": team.id, "name": team.name, "members": []}
    if change.trigger == "BOOKING_CANCELLED":
        payload["cancellationReason"] = booking.cancellation_reason
        payload["cancelledBy"] = booking.cancelled_by_email
    if change.trigger == "BOOKING_RESCHEDULED" and change.previous is not None:
        previous = change.previous
        payload["rescheduleId"] = previous.id
        payload["rescheduleUid"] = previous.uid
        payload["rescheduleStartTime"] = iso_utc_seconds(previous.start)
        payload["rescheduleEndTime"] = iso_utc_seconds(previous.end)
        payload["rescheduledBy"] = booking.rescheduled_by_email
    return payload


_TEMPLATE_FIELD = re.compile(r"\{\{\s*([\w.]+)\s*\}\}")


def render_template(template: str, context: Mapping[str, Any]) -> str:
    """The subset of Handlebars Cal.com documents for templates: `{{path.to.value}}` lookups."""

    def lookup(match: re.Match[str]) -> str:
        value: Any = context
        for part in match.group(1).split("."):
            if isinstance(value, Mapping):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return ""
        return "" if value is None else str(value)

    return _TEMPLATE_FIELD.sub(lookup, template)


def sign(secret: str | None, body: bytes) -> str:
    if not secret:
        return NO_SECRET
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class OutgoingWebhook:
    """One POST the sandbox sends: exactly these bytes, signed over exactly these bytes."""

    webhook_id: int
    url: str
    trigger: str
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def outgoing_for(state: SandboxState, change: BookingChange, now: datetime) -> list[OutgoingWebhook]:
    listeners = subscribers(state, change.booking, change.trigger)
    if not listeners:
        return []
    payload = booking_payload(state, change)
    created_at = iso_utc(now)
    outgoing: list[OutgoingWebhook] = []
    for webhook in listeners:
        if webhook.payload_template:
            text = render_template(
                webhook.payload_template, {**payload, "triggerEvent": change.trigger, "createdAt": created_at}
            )
            body = text.encode()
            content_type = "application/json" if _is_json(text) else "application/x-www-form-urlencoded"
        else:
            envelope = {"triggerEvent": change.trigger, "createdAt": created_at, "payload": payload}
            # JSON.stringify spelling: no spaces, non-ASCII kept as is.
            body = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False).encode()
            content_type = "application/json"
        headers = {"Content-Type": content_type, SIGNATURE_HEADER: sign(webhook.secret, body)}
        outgoing.append(OutgoingWebhook(webhook.id, webhook.subscriber_url, change.trigger, headers, body))
    return outgoing


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


# --- delivery

WebhookSender = Callable[[OutgoingWebhook], Awaitable[None]]


@dataclass(slots=True)
class Delivery:
    webhook: OutgoingWebhook
    error: str | None = None


@dataclass
class WebhookDispatcher:
    """Sends webhooks one at a time in a background task, in the order the bookings changed.

    Requests only enqueue (no await between the state change and the response), so delivery never sits
    inside the booking's critical section; `flush()` waits until everything queued has been attempted.
    """

    sender: WebhookSender | None = None
    deliveries: list[Delivery] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: deque[OutgoingWebhook] = deque()
        self._worker: asyncio.Task[None] | None = None

    def enqueue(self, outgoing: Sequence[OutgoingWebhook]) -> None:
        if not outgoing:
            return
        self._queue.extend(outgoing)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop (a synchronous seed): flush() sends them later
        if self._worker is None or self._worker.done():
            self._worker = loop.create_task(self._drain())

    async def flush(self) -> None:
        worker = self._worker
        if worker is not None and not worker.done():
            await worker
        await self._drain()

    @property
    def pending(self) -> int:
        return len(self._queue)

    async def _drain(self) -> None:
        while self._queue:
            await self._deliver(self._queue.popleft())

    async def _deliver(self, outgoing: OutgoingWebhook) -> None:
        delivery = Delivery(outgoing)
        self.deliveries.append(delivery)
        if self.sender is None:
            return
        try:
            await self.sender(outgoing)
        except Exception as exc:
            # A subscriber's failure is its own problem (Cal.com does not retry); keep the sandbox serving.
            delivery.error = repr(exc)
            logger.warning("webhook %s to %s failed: %r", outgoing.trigger, outgoing.url, exc)


def httpx_sender(client: httpx.AsyncClient) -> WebhookSender:
    """A sender that POSTs each webhook with `client`, not following redirects (as Cal.com does)."""

    async def send(outgoing: OutgoingWebhook) -> None:
        response = await client.post(
            outgoing.url, content=outgoing.body, headers=dict(outgoing.headers), follow_redirects=False
        )
        response.raise_for_status()

    return send
