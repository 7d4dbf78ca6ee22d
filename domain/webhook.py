"""Webhook aggregate: a vendor's endpoint, the event types it wants, and its signing secret (sealed).

Where a webhook's URL may point is decided here from addresses passed in (no DNS lookups in the domain):
`https` only, and never a loopback, private, link-local, multicast, reserved or cloud-metadata address,
unless the server allows them for development and tests.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from urllib.parse import urlsplit
from uuid import UUID

from eventsourcing.domain import event

from domain.aggregate import Aggregate
from domain.errors import InvalidValueError, NotFoundError

EVENT_TYPES = (
    "license.created", "license.activated", "license.deactivated", "license.expired", "license.suspended",
    "license.deleted", "security.alert", "security.blocked",
)
"""The spec's public names: a contract, mapped from domain events in workers/webhooks.py."""

URL_MAX_LENGTH = 2048
METADATA_ADDRESSES = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254"),
                                ipaddress.ip_address("100.100.100.200")})
"""Cloud instance-metadata services (AWS/GCP/Azure/OpenStack, AWS IPv6, Alibaba): never a webhook's target."""


class WebhookNotFoundError(NotFoundError):
    """Raised when a webhook does not exist, was deleted, or belongs to another vendor."""


class DeliveryNotFoundError(NotFoundError):
    """Raised when a webhook delivery does not exist or belongs to another webhook."""


class WebhookUrlError(InvalidValueError):
    """Raised when a webhook URL is malformed or points where webhooks may not go."""


class Webhook(Aggregate):
    """Where to POST which event types, signed with a secret kept sealed (never in clear in an event)."""

    @event("Registered")
    def __init__(self, owner_id: UUID, url: str, events: list[str], sealed_secret: str, at: datetime) -> None:
        self.owner_id = owner_id
        self.url = url
        self.events = events
        self.sealed_secret = sealed_secret
        self.is_active = True
        self.is_deleted = False

    def require_visible_to(self, actor_id: UUID, is_admin: bool) -> None:
        """Tenancy: another vendor's webhook is indistinguishable from a missing one."""
        if self.is_deleted or not (is_admin or self.owner_id == actor_id):
            raise WebhookNotFoundError(self.id)

    @event("Changed")
    def change(self, url: str, events: list[str], sealed_secret: str, is_active: bool, at: datetime) -> None:
        self.url = url
        self.events = events
        self.sealed_secret = sealed_secret
        self.is_active = is_active

    def disable(self, consecutive_failures: int, at: datetime) -> bool:
        """Stop delivering to an endpoint that keeps failing; False when it is already off or gone."""
        if self.is_deleted or not self.is_active:
            return False
        self._disable(consecutive_failures=consecutive_failures, at=at)
        return True

    @event("Disabled")
    def _disable(self, consecutive_failures: int, at: datetime) -> None:
        self.is_active = False

    @event("ReplayRequested")
    def request_replay(self, replay_id: UUID, after: int, upto: int, since: datetime | None, at: datetime) -> None:
        """Re-send the matching events past position `after` (and at or after `since`) up to position `upto`."""

    @event("RetryRequested")
    def request_retry(self, delivery_id: UUID, at: datetime) -> None:
        """Attempt one delivery again now, whatever its state."""

    @event("Deleted")
    def delete(self, at: datetime) -> None:
        self.is_deleted = True


def check_events(events: list[str]) -> list[str]:
    """The event types, each known and named once, in the order given."""
    if not events:
        raise InvalidValueError("events must name at least one event type")
    unknown = [name for name in events if name not in EVENT_TYPES]
    if unknown:
        raise InvalidValueError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    return list(dict.fromkeys(events))


def check_url(url: str, allow_private: bool) -> str:
    """The URL's host, if the URL is well formed: https (or http when private targets are allowed), a host,
    no user info, no fragment."""
    if len(url) > URL_MAX_LENGTH:
        raise WebhookUrlError(f"url may be at most {URL_MAX_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise WebhookUrlError("url is not a valid URL") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise WebhookUrlError("url must use https")
    if not parts.hostname or parts.username is not None or parts.password is not None or parts.fragment:
        raise WebhookUrlError("url must name a host, without user info or a fragment")
    if any(ord(char) <= 0x20 or ord(char) == 0x7F for char in url):
        raise WebhookUrlError("url may not contain spaces or control characters")
    return parts.hostname


def check_addresses(host: str, addresses: list[str], allow_private: bool) -> None:
    """Refuse a host that resolves to nothing, or to any address webhooks may not reach."""
    if not addresses:
        raise WebhookUrlError(f"url's host {host} does not resolve")
    if allow_private:
        return
    for text in addresses:
        if forbidden_address(text):
            raise WebhookUrlError("url must not point to a loopback, private, link-local or metadata address")


def forbidden_address(text: str) -> bool:
    """Whether an address is one no webhook may reach: anything but a global unicast address."""
    address = ipaddress.ip_address(text.split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address in METADATA_ADDRESSES or not address.is_global or address.is_multicast
