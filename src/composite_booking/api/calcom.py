"""Cal.com integration routes: the webhook receiver and a service's event-type mappings."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from composite_booking.api.deps import CatalogDep, EventMapDep, SessionDep
from composite_booking.api.problems import problem_responses
from composite_booking.calcom.webhooks import SIGNATURE_HEADER, booking_change, signature_matches
from composite_booking.config import Settings
from composite_booking.db.repositories.calendar_changes import CalendarChangeRepository
from composite_booking.db.repositories.outbox import OutboxRepository
from composite_booking.domain.calendar_changes import CalendarChanges
from composite_booking.domain.errors import InvalidInput, ServiceError, Unauthorized
from composite_booking.schemas.calcom import CalcomMappingOut

router = APIRouter(tags=["calcom"])


class WebhookUnavailable(ServiceError):
    status = 503
    title = "Webhook not configured"
    type_slug = "webhook-not-configured"


class WebhookReceipt(BaseModel):
    outcome: str
    duplicate: bool
    appointment_id: int | None


@router.post(
    "/v1/calcom/webhook",
    responses=problem_responses(401, 422, 503),
    openapi_extra={"security": []},
)
async def receive_calcom_webhook(request: Request, session: SessionDep) -> WebhookReceipt:
    """Cal.com booking webhooks, verified by `X-Cal-Signature-256` (nothing is done when it does not match).

    `BOOKING_CANCELLED` / `BOOKING_RESCHEDULED` of a segment booking made by this service mark its
    appointment as needing attention (or cancel the whole chain, per `CALCOM_EXTERNAL_CHANGE_POLICY`).
    A redelivery of the same body is recognised and changes nothing.
    """
    settings: Settings = request.app.state.settings
    if not settings.calcom_webhook_secret:
        raise WebhookUnavailable("CALCOM_WEBHOOK_SECRET is not set: webhooks are refused")
    raw_body = await request.body()
    if not signature_matches(settings.calcom_webhook_secret, raw_body, request.headers.get(SIGNATURE_HEADER)):
        raise Unauthorized(f"the {SIGNATURE_HEADER} header does not match the body")
    try:
        document: Any = json.loads(raw_body)
    except ValueError as exc:
        raise InvalidInput.single("body", f"not JSON: {exc}") from exc
    if not isinstance(document, dict) or "triggerEvent" not in document:
        raise InvalidInput.single("triggerEvent", "a Cal.com webhook body has a triggerEvent")
    changes = CalendarChanges(
        CalendarChangeRepository(session),
        OutboxRepository(session),
        policy=settings.calcom_external_change_policy,
        now=datetime.now(UTC),
        on_staff_calendar_changed=request.app.state.on_staff_calendar_changed,
    )
    outcome = await changes.receive(raw_body, document, booking_change(document))
    return WebhookReceipt(
        outcome=outcome.outcome, duplicate=outcome.duplicate, appointment_id=outcome.appointment_id
    )


@router.get("/v1/services/{service_id}/calcom-mappings", responses=problem_responses(401, 404, 422))
async def list_calcom_mappings(
    service_id: int, catalog: CatalogDep, event_map: EventMapDep
) -> list[CalcomMappingOut]:
    """The hidden Cal.com event types of a service (one per segment per staff member), with sync state
    and any drift found (which fields differ, since when)."""
    await catalog.get_service(service_id)  # 404 for unknown ids and for other companies' services
    return [CalcomMappingOut.model_validate(m) for m in await event_map.mappings(service_id)]
