"""Async client for the Cal.com API v2 subset we use: team event types, schedules, slots, bookings, webhooks.

One `httpx.AsyncClient` per process (made by `create_http_client` in the app's lifespan) is injected, and
one `RateLimiter` per API key is shared by everything that uses the key.

Retries happen only where repeating a request cannot do harm:
- reads (GET) on 429, 5xx, transport errors and timeouts;
- idempotent writes (PATCH, DELETE, cancel) on 429 and 5xx;
- every call when the request provably never left (connect errors, pool timeouts) or was refused by the
  throttler (429, which Cal.com answers before any handler runs).
`POST /v2/bookings` and reschedule are not idempotent: once sent, a timeout, a dropped connection, a 5xx or
an unreadable success body raises `CalcomUnknownOutcome` and nothing is repeated. The saga then looks the
booking up by the metadata it wrote.
"""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from typing import Any, Final, TypeVar

import httpx
from pydantic import BaseModel

from composite_booking.calcom.errors import (
    CalcomError,
    CalcomNotFound,
    CalcomRateLimited,
    CalcomUnknownOutcome,
    CalcomUpstreamError,
    error_from_response,
)
from composite_booking.calcom.models import (
    AttendeeInput,
    Booking,
    BookingCancel,
    BookingCreate,
    BookingFilters,
    BookingPage,
    BookingReschedule,
    Pagination,
    Schedule,
    SlotRange,
    SlotsByDate,
    TeamEventType,
    TeamEventTypeCreate,
    TeamEventTypeUpdate,
    Webhook,
    WebhookCreate,
    WebhookTrigger,
    to_utc_iso,
)
from composite_booking.calcom.ratelimit import RateLimiter, RateLimiterRegistry, Sleep
from composite_booking.config import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)

# `cal-api-version` picks the controller that handles a request (reference §1.2); sent bare, unquoted.
BOOKINGS_API_VERSION: Final = "2024-08-13"
SLOTS_API_VERSION: Final = "2024-09-04"
SCHEDULES_API_VERSION: Final = "2024-06-11"
# Team event types are not versioned today; naming the version our bodies follow keeps them pinned if
# Cal.com ever versions that controller.
TEAM_EVENT_TYPES_API_VERSION: Final = "2024-06-14"

BOOKINGS_MAX_TAKE: Final = 250
WEBHOOKS_PAGE_SIZE: Final = 250

# Raised before a single byte of the request reached Cal.com, so a retry cannot duplicate anything.
_NOT_SENT_ERRORS: Final = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class Safety(Enum):
    """What repeating a request could do, which decides when it may be retried."""

    READ = "read"
    IDEMPOTENT_WRITE = "idempotent write"
    NON_IDEMPOTENT_WRITE = "non-idempotent write"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter; `max_attempts` counts the first try.

    `max_rate_limit_wait_s`: when Cal.com has blocked the key for longer than this, fail fast with
    `CalcomRateLimited` instead of waiting (a voice agent cannot hold a caller for a minute).
    """

    max_attempts: int = 3
    base_delay_s: float = 0.25
    max_delay_s: float = 4.0
    max_rate_limit_wait_s: float = 90.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def delay_s(self, retry_number: int, rng: random.Random) -> float:
        """Delay before retry `retry_number` (1-based): half fixed, half random, so replicas spread out."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** (retry_number - 1))
        return rng.uniform(ceiling / 2, ceiling)


def create_http_client(settings: Settings) -> httpx.AsyncClient:
    """The process-wide HTTP client for Cal.com; the API key travels per request, not on the client."""
    return httpx.AsyncClient(
        base_url=settings.calcom_base_url,
        timeout=httpx.Timeout(settings.calcom_timeout_s),
        headers={"Accept": "application/json", "User-Agent": "composite-booking"},
        follow_redirects=False,
    )


def _new_request_id() -> str:
    return uuid.uuid4().hex


class CalcomClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        api_key: str,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy = RetryPolicy(),
        sleep: Sleep = asyncio.sleep,
        rng: random.Random | None = None,
        request_ids: Callable[[], str] = _new_request_id,
        request_timeout_s: float | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("a Cal.com API key is required")
        self._http = http
        self._api_key = api_key
        self._limiter = rate_limiter if rate_limiter is not None else RateLimiter(sleep=sleep)
        self._retry = retry
        self._sleep = sleep
        self._rng = rng if rng is not None else random.Random()
        self._request_ids = request_ids
        # Enforced here as well as by the transport: an in-process transport (the sandbox) has no timeouts.
        self._request_timeout_s = request_timeout_s

    @classmethod
    def from_settings(
        cls, http: httpx.AsyncClient, settings: Settings, *, rate_limiters: RateLimiterRegistry
    ) -> CalcomClient:
        if not settings.calcom_api_key:
            raise ValueError("CALCOM_API_KEY is not set")
        return cls(
            http,
            api_key=settings.calcom_api_key,
            rate_limiter=rate_limiters.for_api_key(settings.calcom_api_key),
            request_timeout_s=settings.calcom_timeout_s,
        )

    # ------------------------------------------------------------------------------------ team event types

    async def create_team_event_type(self, team_id: int, event_type: TeamEventTypeCreate) -> TeamEventType:
        """Create. A `managed` type comes back as the parent plus its children; we return the parent.

        Not retried once sent: a timeout raises `CalcomUnknownOutcome`; look the slug up to find out.
        """
        return await self._call(
            "POST",
            f"/v2/teams/{team_id}/event-types",
            version=TEAM_EVENT_TYPES_API_VERSION,
            safety=Safety.NON_IDEMPOTENT_WRITE,
            body=event_type.to_body(),
            decode=_event_type_or_parent,
        )

    async def get_team_event_type(self, team_id: int, event_type_id: int) -> TeamEventType:
        return await self._call(
            "GET",
            f"/v2/teams/{team_id}/event-types/{event_type_id}",
            version=TEAM_EVENT_TYPES_API_VERSION,
            safety=Safety.READ,
            decode=lambda envelope: TeamEventType.model_validate(_data_object(envelope)),
        )

    async def list_team_event_types(self, team_id: int, *, slug: str | None = None) -> list[TeamEventType]:
        return await self._call(
            "GET",
            f"/v2/teams/{team_id}/event-types",
            version=TEAM_EVENT_TYPES_API_VERSION,
            safety=Safety.READ,
            params={"eventSlug": slug} if slug is not None else None,
            decode=lambda envelope: _models(TeamEventType, _data_list(envelope)),
        )

    async def update_team_event_type(
        self, team_id: int, event_type_id: int, changes: TeamEventTypeUpdate
    ) -> TeamEventType:
        return await self._call(
            "PATCH",
            f"/v2/teams/{team_id}/event-types/{event_type_id}",
            version=TEAM_EVENT_TYPES_API_VERSION,
            safety=Safety.IDEMPOTENT_WRITE,
            body=changes.to_body(),
            decode=_event_type_or_parent,
        )

    async def delete_team_event_type(self, team_id: int, event_type_id: int) -> None:
        """Delete. A retried delete whose first try went through raises `CalcomNotFound`: that means done."""
        await self._call(
            "DELETE",
            f"/v2/teams/{team_id}/event-types/{event_type_id}",
            version=TEAM_EVENT_TYPES_API_VERSION,
            safety=Safety.IDEMPOTENT_WRITE,
            decode=_ignore,
        )

    # ------------------------------------------------------------------------------------ schedules

    async def list_schedules(self) -> list[Schedule]:
        return await self._call(
            "GET",
            "/v2/schedules",
            version=SCHEDULES_API_VERSION,
            safety=Safety.READ,
            decode=lambda envelope: _models(Schedule, _data_list(envelope)),
        )

    async def get_default_schedule(self) -> Schedule | None:
        """The key owner's default schedule; None when the user has none (then they cannot be booked)."""
        return await self._call(
            "GET",
            "/v2/schedules/default",
            version=SCHEDULES_API_VERSION,
            safety=Safety.READ,
            decode=_optional_schedule,
        )

    async def get_schedule(self, schedule_id: int) -> Schedule:
        path = f"/v2/schedules/{schedule_id}"
        schedule = await self._call(
            "GET", path, version=SCHEDULES_API_VERSION, safety=Safety.READ, decode=_optional_schedule
        )
        if schedule is None:  # the document allows `data: null` for an unknown id
            raise CalcomNotFound(f"Cal.com has no schedule {schedule_id}", method="GET", path=path)
        return schedule

    # ------------------------------------------------------------------------------------ slots

    async def get_slots(
        self,
        *,
        event_type_id: int,
        start: datetime,
        end: datetime,
        time_zone: str,
        duration_min: int | None = None,
        booking_uid_to_reschedule: str | None = None,
    ) -> SlotsByDate:
        """Free slots as ranges, keyed by local date in `time_zone`; `{}` when nothing is free."""
        params: dict[str, str | int] = {
            "eventTypeId": event_type_id,
            "start": to_utc_iso(start),
            "end": to_utc_iso(end),
            "timeZone": time_zone,
            "format": "range",
        }
        if duration_min is not None:
            params["duration"] = duration_min
        if booking_uid_to_reschedule is not None:
            params["bookingUidToReschedule"] = booking_uid_to_reschedule
        return await self._call(
            "GET", "/v2/slots", version=SLOTS_API_VERSION, safety=Safety.READ, params=params, decode=_slots
        )

    async def get_free_ranges(
        self, *, event_type_id: int, start: datetime, end: datetime
    ) -> list[tuple[datetime, datetime]]:
        """The same request as `get_slots` (UTC), as free `(start, end)` ranges, touching ones merged.

        For free-time reads of thousands of slots: no model per slot and only range edges parsed, which
        would otherwise cost more than the rest of an availability query.
        """
        params: dict[str, str | int] = {
            "eventTypeId": event_type_id,
            "start": to_utc_iso(start),
            "end": to_utc_iso(end),
            "timeZone": "UTC",
            "format": "range",
        }
        return await self._call(
            "GET", "/v2/slots", version=SLOTS_API_VERSION, safety=Safety.READ, params=params, decode=_ranges
        )

    # ------------------------------------------------------------------------------------ bookings

    async def create_booking(
        self,
        *,
        event_type_id: int,
        start: datetime,
        attendee: AttendeeInput,
        metadata: Mapping[str, str] | None = None,
        length_in_minutes: int | None = None,
        guests: Sequence[str] | None = None,
        booking_fields_responses: Mapping[str, Any] | None = None,
    ) -> Booking:
        """Book `start` (aware; sent as UTC `Z`) on an event type.

        Raises `CalcomSlotTaken` when the host is busy, and `CalcomUnknownOutcome` when the request went
        out but no usable answer came back (never retried: a second POST could book twice).
        """
        body = BookingCreate(
            event_type_id=event_type_id,
            start=to_utc_iso(start),
            attendee=attendee,
            metadata=dict(metadata) if metadata is not None else None,
            length_in_minutes=length_in_minutes,
            guests=list(guests) if guests is not None else None,
            booking_fields_responses=dict(booking_fields_responses) if booking_fields_responses else None,
        ).to_body()
        return await self._call(
            "POST",
            "/v2/bookings",
            version=BOOKINGS_API_VERSION,
            safety=Safety.NON_IDEMPOTENT_WRITE,
            body=body,
            decode=_booking,
        )

    async def get_booking(self, uid: str) -> Booking:
        return await self._call(
            "GET", f"/v2/bookings/{uid}", version=BOOKINGS_API_VERSION, safety=Safety.READ, decode=_booking
        )

    async def list_bookings(
        self, filters: BookingFilters | None = None, *, take: int = 100, skip: int = 0
    ) -> BookingPage:
        """One page of bookings; `iter_bookings` walks all of them."""
        if not 1 <= take <= BOOKINGS_MAX_TAKE:
            raise ValueError(f"take must be between 1 and {BOOKINGS_MAX_TAKE}")
        if skip < 0:
            raise ValueError("skip must not be negative")
        params: dict[str, str | int] = {
            **(filters or BookingFilters()).to_query(),
            "take": take,
            "skip": skip,
        }
        return await self._call(
            "GET",
            "/v2/bookings",
            version=BOOKINGS_API_VERSION,
            safety=Safety.READ,
            params=params,
            decode=_booking_page,
        )

    async def iter_bookings(
        self, filters: BookingFilters | None = None, *, page_size: int = 100
    ) -> AsyncIterator[Booking]:
        """Every booking matching `filters`, page by page (`take`/`skip`, guided by `pagination`)."""
        skip = 0
        while True:
            page = await self.list_bookings(filters, take=page_size, skip=skip)
            for booking in page.bookings:
                yield booking
            # An empty page ends the walk even if `hasNextPage` claims more: never loop forever.
            if not page.pagination.has_next_page or not page.bookings:
                return
            skip += len(page.bookings)

    async def cancel_booking(self, uid: str, *, reason: str) -> Booking:
        """Cancel. The reason is required because Cal.com demands one when the host (our key) cancels."""
        return await self._call(
            "POST",
            f"/v2/bookings/{uid}/cancel",
            version=BOOKINGS_API_VERSION,
            safety=Safety.IDEMPOTENT_WRITE,
            body=BookingCancel(cancellation_reason=reason).to_body(),
            decode=_booking,
        )

    async def reschedule_booking(
        self, uid: str, *, start: datetime, reason: str | None = None, rescheduled_by: str | None = None
    ) -> Booking:
        """Move a booking; Cal.com returns the new booking (new uid) and cancels the old one. Not retried."""
        body = BookingReschedule(
            start=to_utc_iso(start), rescheduling_reason=reason, rescheduled_by=rescheduled_by
        ).to_body()
        return await self._call(
            "POST",
            f"/v2/bookings/{uid}/reschedule",
            version=BOOKINGS_API_VERSION,
            safety=Safety.NON_IDEMPOTENT_WRITE,
            body=body,
            decode=_booking,
        )

    # ------------------------------------------------------------------------------------ webhooks

    async def create_webhook(
        self,
        *,
        subscriber_url: str,
        triggers: Sequence[WebhookTrigger],
        secret: str | None,
        active: bool = True,
        payload_template: str | None = None,
    ) -> Webhook:
        webhook = WebhookCreate(
            subscriber_url=subscriber_url,
            triggers=list(triggers),
            secret=secret,
            active=active,
            payload_template=payload_template,
        )
        return await self._call(
            "POST",
            "/v2/webhooks",
            version=None,
            safety=Safety.NON_IDEMPOTENT_WRITE,
            body=webhook.to_body(),
            decode=lambda envelope: Webhook.model_validate(_data_object(envelope)),
        )

    async def list_webhooks(self) -> list[Webhook]:
        webhooks: list[Webhook] = []
        while True:
            page = await self._call(
                "GET",
                "/v2/webhooks",
                version=None,
                safety=Safety.READ,
                params={"take": WEBHOOKS_PAGE_SIZE, "skip": len(webhooks)},
                decode=lambda envelope: _models(Webhook, _data_list(envelope)),
            )
            webhooks.extend(page)
            if len(page) < WEBHOOKS_PAGE_SIZE:
                return webhooks

    async def delete_webhook(self, webhook_id: int) -> None:
        await self._call(
            "DELETE",
            f"/v2/webhooks/{webhook_id}",
            version=None,
            safety=Safety.IDEMPOTENT_WRITE,
            decode=_ignore,
        )

    # ------------------------------------------------------------------------------------ transport

    async def _call(
        self,
        method: str,
        path: str,
        *,
        version: str | None,
        safety: Safety,
        decode: Callable[[dict[str, Any]], T],
        params: Mapping[str, str | int] | None = None,
        body: dict[str, Any] | None = None,
    ) -> T:
        response = await self._send(method, path, version=version, safety=safety, params=params, body=body)
        try:
            return decode(_success_envelope(response))
        except ValueError as exc:  # includes JSON and pydantic validation errors
            context = _context(method, path, response)
            if safety is Safety.NON_IDEMPOTENT_WRITE:
                # Cal.com said yes but we cannot read what it made: the write happened, its result is unknown.
                raise CalcomUnknownOutcome(
                    f"Cal.com accepted {method} {path} but its answer is unreadable: {exc}", **context
                ) from exc
            raise CalcomUpstreamError(
                f"Cal.com answered {method} {path} with a malformed body: {exc}", **context
            ) from exc

    async def _send(
        self,
        method: str,
        path: str,
        *,
        version: str | None,
        safety: Safety,
        params: Mapping[str, str | int] | None,
        body: dict[str, Any] | None,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self._api_key}", "X-Request-Id": self._request_ids()}
        if version is not None:
            headers["cal-api-version"] = version
        attempt = 0
        while True:
            attempt += 1
            retries_left = attempt < self._retry.max_attempts
            await self._wait_for_rate_limit(method, path)
            try:
                response = await self._request(method, path, params=params, body=body, headers=headers)
            except _NOT_SENT_ERRORS as exc:
                if retries_left:
                    await self._back_off(attempt, method, path, repr(exc))
                    continue
                raise CalcomUpstreamError(
                    f"could not reach Cal.com for {method} {path}: {exc!r}", method=method, path=path
                ) from exc
            except httpx.RequestError as exc:
                # The request (or part of it) went out; only a read may be repeated.
                if safety is Safety.READ and retries_left:
                    await self._back_off(attempt, method, path, repr(exc))
                    continue
                if safety is Safety.READ:
                    raise CalcomUpstreamError(
                        f"no answer from Cal.com for {method} {path}: {exc!r}", method=method, path=path
                    ) from exc
                raise CalcomUnknownOutcome(
                    f"sent {method} {path} but got no answer from Cal.com: {exc!r}", method=method, path=path
                ) from exc
            self._limiter.note_response(response.status_code, response.headers)
            if response.is_success:
                return response
            error = error_from_response(response, method=method, path=path)
            if not self._may_retry(response.status_code, safety):
                if response.status_code >= 500 and safety is Safety.NON_IDEMPOTENT_WRITE:
                    raise CalcomUnknownOutcome(
                        f"Cal.com failed after receiving {method} {path} ({response.status_code}); "
                        "the write may have happened",
                        **_context(method, path, response, error),
                    ) from error
                raise error
            if not retries_left:
                raise error
            await self._back_off(attempt, method, path, f"HTTP {response.status_code}")

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None,
        body: dict[str, Any] | None,
        headers: dict[str, str],
    ) -> httpx.Response:
        try:
            async with asyncio.timeout(self._request_timeout_s):
                return await self._http.request(method, path, params=params, json=body, headers=headers)
        except TimeoutError as exc:
            raise httpx.ReadTimeout(f"no answer within {self._request_timeout_s} s") from exc

    @staticmethod
    def _may_retry(status_code: int, safety: Safety) -> bool:
        if status_code == 429:  # refused by the throttler before any handler ran: nothing happened
            return True
        if status_code >= 500:
            return safety is not Safety.NON_IDEMPOTENT_WRITE
        return False

    async def _wait_for_rate_limit(self, method: str, path: str) -> None:
        blocked_for_s = self._limiter.blocked_for_s()
        if blocked_for_s > self._retry.max_rate_limit_wait_s:
            raise CalcomRateLimited(
                f"Cal.com has blocked our API key for another {blocked_for_s:.0f} s",
                retry_after_s=blocked_for_s,
                method=method,
                path=path,
            )
        await self._limiter.acquire()

    async def _back_off(self, attempt: int, method: str, path: str, reason: str) -> None:
        delay_s = self._retry.delay_s(attempt, self._rng)
        logger.warning(
            "Cal.com %s %s failed (%s); retry %d in %.2f s", method, path, reason, attempt, delay_s
        )
        await self._sleep(delay_s)


# ---------------------------------------------------------------------------------------- decoding


def _context(
    method: str, path: str, response: httpx.Response, error: CalcomError | None = None
) -> dict[str, Any]:
    return {
        "method": method,
        "path": path,
        "upstream_status": response.status_code,
        "code": error.code if error else None,
        "upstream_message": error.upstream_message if error else None,
        "request_id": response.headers.get("x-request-id"),
    }


def _success_envelope(response: httpx.Response) -> dict[str, Any]:
    envelope = response.json()
    if not isinstance(envelope, dict):
        raise ValueError("expected a JSON object")
    if envelope.get("status", "success") != "success":
        raise ValueError(f"envelope status is {envelope.get('status')!r}")
    return envelope


def _data_object(envelope: dict[str, Any]) -> dict[str, Any]:
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise ValueError(f"expected `data` to be an object, got {type(data).__name__}")
    return data


def _data_list(envelope: dict[str, Any]) -> list[Any]:
    data = envelope.get("data")
    if not isinstance(data, list):
        raise ValueError(f"expected `data` to be an array, got {type(data).__name__}")
    return data


def _models(model: type[ModelT], items: list[Any]) -> list[ModelT]:
    return [model.model_validate(item) for item in items]


def _ignore(envelope: dict[str, Any]) -> None:
    return None


def _event_type_or_parent(envelope: dict[str, Any]) -> TeamEventType:
    data = envelope.get("data")
    if isinstance(data, list):
        event_types = _models(TeamEventType, data)
        if not event_types:
            raise ValueError("empty event type list")
        parents = [event_type for event_type in event_types if event_type.parent_event_type_id is None]
        return (parents or event_types)[0]
    return TeamEventType.model_validate(_data_object(envelope))


def _optional_schedule(envelope: dict[str, Any]) -> Schedule | None:
    if envelope.get("data") is None:
        return None
    return Schedule.model_validate(_data_object(envelope))


def _booking(envelope: dict[str, Any]) -> Booking:
    # A recurring or seated event type would answer with an array or a seat; ours never do, so refuse it.
    return Booking.model_validate(_data_object(envelope))


def _booking_page(envelope: dict[str, Any]) -> BookingPage:
    return BookingPage(
        bookings=_models(Booking, _data_list(envelope)),
        pagination=Pagination.model_validate(envelope.get("pagination")),
    )


def _ranges(envelope: dict[str, Any]) -> list[tuple[datetime, datetime]]:
    """Slot ranges merged where one ends exactly where the next starts: only the edges are parsed."""
    data = envelope.get("data")
    if not isinstance(data, dict):
        raise ValueError("slots `data` is not an object keyed by date")
    edges: list[tuple[str, str]] = []
    for slots in data.values():
        for slot in slots:
            start, end = slot.get("start"), slot.get("end")
            if not isinstance(start, str) or not isinstance(end, str):
                raise ValueError(f"a range slot needs start and end: {slot}")
            if edges and edges[-1][1] == start:
                edges[-1] = (edges[-1][0], end)
            else:
                edges.append((start, end))
    ranges = []
    for start_text, end_text in edges:
        opens, closes = datetime.fromisoformat(start_text), datetime.fromisoformat(end_text)
        if opens.tzinfo is None or closes.tzinfo is None:
            raise ValueError(f"slot without an offset: {start_text} / {end_text}")
        ranges.append((opens, closes))
    return ranges


def _slots(envelope: dict[str, Any]) -> SlotsByDate:
    by_date: SlotsByDate = {}
    for local_date, slots in sorted(_data_object(envelope).items()):
        if not isinstance(slots, list):
            raise ValueError(f"slots of {local_date} are not an array")
        by_date[date.fromisoformat(local_date)] = _models(SlotRange, slots)
    return by_date
