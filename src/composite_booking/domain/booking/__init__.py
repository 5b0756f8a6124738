"""Composite bookings: book, reschedule (make-before-break), cancel, release a pause; the saga behind them.

Where a booking is made: `service.BookingService.book` (step 1, the claim) and `saga.BookingSagaRunner`
(steps 2 and 3, Cal.com and the outcome). `jobs/recovery.py` finishes sagas whose driver died.
"""

from composite_booking.domain.booking.idempotency import IdempotencyRef, idempotency_ref, request_fingerprint
from composite_booking.domain.booking.saga import BookingSagaRunner, SagaOutcome, SagaRef, SagaTakenOver
from composite_booking.domain.booking.service import (
    BookingRequest,
    BookingResponse,
    BookingService,
    BookingSettings,
    CustomerDetails,
    RescheduleRequest,
)
from composite_booking.domain.booking.states import Checkpoint, SagaKind, SagaState, StepAction, StepState

__all__ = [
    "BookingRequest",
    "BookingResponse",
    "BookingSagaRunner",
    "BookingService",
    "BookingSettings",
    "Checkpoint",
    "CustomerDetails",
    "IdempotencyRef",
    "RescheduleRequest",
    "SagaKind",
    "SagaOutcome",
    "SagaRef",
    "SagaState",
    "SagaTakenOver",
    "StepAction",
    "StepState",
    "idempotency_ref",
    "request_fingerprint",
]
