"""Webhook requests and answers."""

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal
from uuid import UUID

import msgspec

from api.schemas.common import Instant, Pagination
from domain.webhook import URL_MAX_LENGTH

EventType = Literal["license.created", "license.activated", "license.deactivated", "license.expired",
                    "license.suspended", "license.deleted", "security.alert", "security.blocked"]
Url = Annotated[str, msgspec.Meta(min_length=1, max_length=URL_MAX_LENGTH, description=(
    "https only, and not a loopback, private, link-local or cloud-metadata address (checked again at each"
    " delivery); plain http and private addresses only where the server allows them (development)"))]
Events = Annotated[list[EventType], msgspec.Meta(min_length=1, max_length=16)]
Secret = Annotated[str, msgspec.Meta(min_length=8, max_length=256, description=(
    "Signs every delivery (docs/webhooks.md); one is generated when none is given"))]


class WebhookCreate(msgspec.Struct, forbid_unknown_fields=True):
    url: Url
    events: Events
    secret: Secret | None = None


class WebhookUpdate(msgspec.Struct, forbid_unknown_fields=True):
    url: Url | None = None
    events: Events | None = None
    secret: Secret | None = None
    is_active: bool | None = None


class Webhook(msgspec.Struct, forbid_unknown_fields=True):
    """A webhook; `secret` only in the answer that set it (registering, or changing the secret)."""

    id: UUID
    url: str
    events: list[str]
    is_active: bool
    created_at: Instant
    updated_at: Instant
    secret: str | msgspec.UnsetType = msgspec.UNSET


class WebhookTest(msgspec.Struct, forbid_unknown_fields=True):
    """What the endpoint answered a signed `webhook.test` delivery (status_code null: no answer; see error)."""

    status_code: int | None
    response_time_ms: int
    error: str | None


class DeliveryAttempt(msgspec.Struct, forbid_unknown_fields=True):
    attempt: int
    attempted_at: Instant
    status_code: int | None
    response_time_ms: int
    error: str | None
    response_excerpt: str
    next_retry_at: Instant | None


class Delivery(msgspec.Struct, forbid_unknown_fields=True):
    """One event due to one webhook: `event_id` is the body's `id` (the same on every retry and replay);
    `state` is pending, delivered, failed (retries exhausted) or cancelled (the webhook went first)."""

    id: UUID
    event_id: UUID
    event_type: str
    position: int
    state: Literal["pending", "delivered", "failed", "cancelled"]
    next_attempt_at: Instant | None
    replay_id: UUID | None
    created_at: Instant
    attempts: list[DeliveryAttempt]


class DeliveryPage(msgspec.Struct, forbid_unknown_fields=True):
    deliveries: list[Delivery]
    pagination: Pagination


class WebhookReplay(msgspec.Struct, forbid_unknown_fields=True):
    """Re-send the webhook's event types recorded past position `after` and/or at or after `since`, up to now."""

    json_schema_extra: ClassVar[dict[str, Any]] = {"anyOf": [  # one of the two, in the OpenAPI document
        {"required": ["after"], "properties": {"after": {"type": "integer"}}},
        {"required": ["since"], "properties": {"since": {"type": "string"}}}]}

    after: Annotated[int, msgspec.Meta(ge=0, le=2**62)] | None = None
    since: Annotated[datetime, msgspec.Meta(tz=True)] | None = None


class Replay(msgspec.Struct, forbid_unknown_fields=True):
    replay_id: UUID
    after: int
    upto: int
    queued: int


def webhook_of(row: dict[str, Any], secret: str | None = None) -> Webhook:
    webhook = msgspec.convert({name: row[name] for name in Webhook.__struct_fields__ if name != "secret"}, Webhook)
    if secret is not None:
        webhook.secret = secret
    return webhook
