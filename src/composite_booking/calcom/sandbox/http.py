"""The request pipeline every sandbox endpoint shares, in the order a real request meets it.

count the call → injected latency / hang → throttler → injected failure (before the effect) → auth and the
handler → injected failure that replaces the response (after the effect) → envelope and headers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from composite_booking.calcom.sandbox.bookings import BookingChange
from composite_booking.calcom.sandbox.clock import Clock, iso_utc
from composite_booking.calcom.sandbox.control import CONTROL_PREFIX, control_reply
from composite_booking.calcom.sandbox.errors import (
    MSG_INVALID_API_KEY,
    MSG_INVALID_BEARER,
    MSG_NO_AUTH,
    MSG_TEAM_HOST_BUSY,
    CalcomError,
    bad_request,
    injected_error,
    route_not_found,
    throttled,
    unauthorized,
)
from composite_booking.calcom.sandbox.faults import CallKind, Faults, InjectedFailure
from composite_booking.calcom.sandbox.ratelimit import RateLimitPolicy, SandboxRateLimiter, api_key_tracker
from composite_booking.calcom.sandbox.records import User
from composite_booking.calcom.sandbox.state import SandboxState
from composite_booking.calcom.sandbox.webhooks import WebhookDispatcher, outgoing_for

_GATEWAY_STATUSES = frozenset({502, 503, 504})
_BOOKING_WRITE_KINDS = frozenset({CallKind.CREATE_BOOKING, CallKind.RESCHEDULE_BOOKING})


@dataclass
class SandboxCore:
    """Everything a request can touch; `CalcomSandbox` owns one and exposes it through its Python API."""

    state: SandboxState
    clock: Clock
    faults: Faults
    limiter: SandboxRateLimiter
    webhooks: WebhookDispatcher
    key_policies: dict[str, RateLimitPolicy] = field(default_factory=dict)
    """Per-key limits (Cal.com support can raise a key's limit), keyed by throttler tracker."""

    def publish(self, change: BookingChange) -> None:
        """Queue the webhooks a booking change triggers; delivery happens after the response."""
        self.webhooks.enqueue(outgoing_for(self.state, change, self.clock()))


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    body: Any
    rendered: str | None = None
    """The body already as JSON text, exactly as `json.dumps(body, ensure_ascii=False)` would write it."""


class Call:
    """One request as a handler sees it."""

    def __init__(self, core: SandboxCore, request: Request, params: Mapping[str, str]) -> None:
        self.core = core
        self.request = request
        self.params = dict(params)
        self.now = core.clock()
        self.version = request.headers.get("cal-api-version")

    @property
    def state(self) -> SandboxState:
        return self.core.state

    @property
    def query(self) -> dict[str, str]:
        return dict(self.request.query_params)

    def path_int(self, name: str) -> int:
        """Nest's ParseIntPipe."""
        value = self.params[name]
        if not value.isdigit():
            raise bad_request("Validation failed (numeric string is expected)")
        return int(value)

    async def body(self) -> Any:
        raw = await self.request.body()
        if not raw.strip():
            return {}
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise bad_request(f"Unexpected token in JSON at position {getattr(exc, 'pos', 0)}") from exc

    def caller(self) -> User | None:
        """The API key's user; None without credentials; 401 for credentials that are not valid."""
        token = _bearer(self.request)
        if token is None:
            return None
        if not token.startswith("cal_"):
            raise unauthorized(MSG_INVALID_BEARER)
        user = self.state.user_for_api_key(token)
        if user is None:
            raise unauthorized(MSG_INVALID_API_KEY)
        return user

    def require_caller(self) -> User:
        user = self.caller()
        if user is None:
            raise unauthorized(MSG_NO_AUTH)
        return user


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    pattern: re.Pattern[str]
    kind: CallKind
    handler: Handler


def endpoint(method: str, path: str, kind: CallKind, handler: Handler) -> Endpoint:
    """`path` uses `{name}` placeholders for one path segment each."""
    regex = "^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "/?$"
    return Endpoint(method, re.compile(regex), kind, handler)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    token = header.removeprefix("Bearer ").strip()
    return token or None


def _tracker(request: Request) -> str:
    token = _bearer(request)
    if token is not None and token.startswith("cal_"):
        return api_key_tracker(token)
    if token is not None:
        return "access_token_" + token
    return "ip_" + (request.client.host if request.client else "unknown")


def _request_id(request: Request) -> str:
    return request.headers.get("x-request-id") or "unknown-request-id"


def path_with_query(request: Request) -> str:
    """Express's `request.url`, which Cal.com echoes as `path` and in "Cannot GET ..." messages."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class SandboxHttp:
    def __init__(
        self, core: SandboxCore, endpoints: Sequence[Endpoint], *, control_api: bool = False
    ) -> None:
        """`control_api` serves `/_sandbox/...` (see `control.py`); without it those are unknown routes."""
        self._core = core
        self._endpoints = list(endpoints)
        self._control_api = control_api

    def starlette_app(self) -> Starlette:
        methods = ["GET", "POST", "PATCH", "PUT", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.respond, methods=methods)])

    def _match(self, method: str, path: str) -> tuple[Endpoint | None, dict[str, str]]:
        for candidate in self._endpoints:
            if candidate.method != method:
                continue
            found = candidate.pattern.match(path)
            if found:
                return candidate, found.groupdict()
        return None, {}

    async def respond(self, request: Request) -> Response:
        if self._control_api and request.url.path.startswith(CONTROL_PREFIX):
            return await self._control(request)
        core = self._core
        route, params = self._match(request.method, request.url.path)
        kind = route.kind if route is not None else CallKind.OTHER
        core.faults.record_call(kind)
        await core.faults.apply_latency(kind)
        hang = core.faults.take_hang(kind)
        if hang is not None and not hang[1]:
            await core.faults.sleep(hang[0])

        tracker = _tracker(request)
        decision = core.limiter.hit(tracker, core.key_policies.get(tracker))
        response: Response
        if not decision.allowed:
            response = self._error(request, throttled())
        else:
            failure = core.faults.take_failure(kind)
            if failure is not None and not failure.after_effect:
                response = self._injected(request, kind, failure)
            else:
                response = await self._handle(request, route, params)
                if failure is not None:
                    response = self._injected(request, kind, failure)
        response.headers.update(decision.headers)

        if hang is not None and hang[1]:
            await core.faults.sleep(hang[0])
        return response

    async def _handle(self, request: Request, route: Endpoint | None, params: dict[str, str]) -> Response:
        try:
            if route is None:
                raise route_not_found(request.method, path_with_query(request))
            reply = await route.handler(Call(self._core, request, params))
        except CalcomError as error:
            return self._error(request, error)
        text = reply.rendered if reply.rendered is not None else json.dumps(reply.body, ensure_ascii=False)
        return Response(text.encode(), reply.status, media_type="application/json")

    async def _control(self, request: Request) -> Response:
        """Outside the pipeline on purpose: a load test must be able to lift faults whatever they are."""
        try:
            data = control_reply(self._core.faults, request.method, request.url.path, await request.body())
        except CalcomError as error:
            return self._error(request, error)
        return Response(
            json.dumps(success(data).body, ensure_ascii=False).encode(), 200, media_type="application/json"
        )

    def _injected(self, request: Request, kind: CallKind, failure: InjectedFailure) -> Response:
        if failure.status in _GATEWAY_STATUSES:
            # A load balancer answers these, not Nest: plain text and no Cal.com envelope.
            return PlainTextResponse(failure.message or f"error code: {failure.status}", failure.status)
        message = failure.message
        if message is None and failure.status == 400 and kind in _BOOKING_WRITE_KINDS:
            message = MSG_TEAM_HOST_BUSY
        return self._error(request, injected_error(failure.status, message))

    def _error(self, request: Request, error: CalcomError) -> Response:
        body = error.envelope(path=path_with_query(request), timestamp=iso_utc(self._core.clock()))
        return Response(
            json.dumps(body, ensure_ascii=False).encode(),
            error.status,
            media_type="application/json",
            headers={"X-Request-Id": _request_id(request)},
        )


def success(data: Any, *, status: int = 200, **extra: Any) -> Reply:
    return Reply(status, {"status": "success", "data": data, **extra})


def success_with_json(data_json: str) -> Reply:
    """`success(data)` for data already rendered as JSON text (`GET /v2/slots` renders a thousand slots)."""
    return Reply(200, None, rendered='{"status": "success", "data": ' + data_json + "}")
