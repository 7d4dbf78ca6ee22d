"""Webhook commands: register, change, delete, disable, and ask for a replay or a retry."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from commands.base import CommandsBase, Receipt
from commands.retry import retry_on_conflict
from domain.account import Actor
from domain.errors import InvalidValueError
from domain.webhook import Webhook, WebhookNotFoundError, check_events, check_url
from keys.secrets import seal, unseal

SECRET_PURPOSE = "webhook-secret"
SECRET_PREFIX = "whsec_"
SECRET_MAX_LENGTH = 256


def shape_only(url: str) -> None:
    """The URL check when no resolver is wired: shape and scheme only (https)."""
    check_url(url, allow_private=False)


class WebhookCommands(CommandsBase):
    """The webhook part of the Ledger. `check_webhook_url` is replaced by the composition root with one that
    also resolves the host and refuses private addresses (adapters/webhook_http.py)."""

    check_webhook_url: Callable[[str], None] = staticmethod(shape_only)

    def register_webhook(self, actor: Actor, url: str, events: list[str], secret: str | None,
                         at: datetime) -> tuple[Receipt, str]:
        """Register an endpoint; returns the receipt and the secret (the one given, or a new `whsec_…`)."""
        secret = _checked_secret(secret) if secret is not None else SECRET_PREFIX + secrets.token_hex(24)
        self.check_webhook_url(url)
        webhook = Webhook(actor.id, url, check_events(events), self._seal(secret), at)
        return Receipt(webhook.id, self.record(webhook)), secret

    def get_webhook(self, actor: Actor, webhook_id: UUID) -> Webhook:
        webhook = self._load(webhook_id, Webhook, WebhookNotFoundError)
        webhook.require_visible_to(actor.id, actor.is_admin)
        return webhook

    @retry_on_conflict
    def change_webhook(self, actor: Actor, webhook_id: UUID, at: datetime, *, url: str | None = None,
                       events: list[str] | None = None, secret: str | None = None,
                       is_active: bool | None = None) -> Receipt:
        """Change what is given; the rest stays."""
        webhook = self.get_webhook(actor, webhook_id)
        if url is not None:
            self.check_webhook_url(url)
        sealed = self._seal(_checked_secret(secret)) if secret is not None else webhook.sealed_secret
        webhook.change(url if url is not None else webhook.url,
                       check_events(events) if events is not None else webhook.events, sealed,
                       webhook.is_active if is_active is None else is_active, at)
        return Receipt(webhook.id, self.record(webhook))

    @retry_on_conflict
    def delete_webhook(self, actor: Actor, webhook_id: UUID, at: datetime) -> Receipt:
        webhook = self.get_webhook(actor, webhook_id)
        webhook.delete(at)
        return Receipt(webhook.id, self.record(webhook))

    @retry_on_conflict
    def disable_webhook(self, webhook_id: UUID, consecutive_failures: int, at: datetime) -> Receipt | None:
        """Turn off an endpoint that keeps failing (the delivery worker's command); None if it already was."""
        webhook = self._optional(webhook_id, Webhook)
        if webhook is None or not webhook.disable(consecutive_failures, at):
            return None
        return Receipt(webhook.id, self.record(webhook))

    @retry_on_conflict
    def replay_webhook(self, actor: Actor, webhook_id: UUID, after: int, since: datetime | None,
                       at: datetime) -> tuple[Receipt, int]:
        """Ask for the matching events past position `after` (at or after `since`), up to now, to be sent again;
        the receipt's id names the replay, and the position returned is the last one it covers."""
        webhook = self.get_webhook(actor, webhook_id)
        if after < 0:
            raise InvalidValueError("after must be a position, 0 or more")
        replay_id, upto = uuid4(), self.position()
        webhook.request_replay(replay_id, after, upto, since, at)
        return Receipt(replay_id, self.record(webhook)), upto

    @retry_on_conflict
    def retry_webhook_delivery(self, actor: Actor, webhook_id: UUID, delivery_id: UUID, at: datetime) -> Receipt:
        webhook = self.get_webhook(actor, webhook_id)
        webhook.request_retry(delivery_id, at)
        return Receipt(delivery_id, self.record(webhook))

    def reveal_webhook_secret(self, sealed_secret: str) -> str:
        return unseal(self.master_key, sealed_secret, SECRET_PURPOSE)

    def _seal(self, secret: str) -> str:
        return seal(self.master_key, secret, SECRET_PURPOSE)


def _checked_secret(secret: str) -> str:
    if not 8 <= len(secret) <= SECRET_MAX_LENGTH:
        raise InvalidValueError(f"secret must be 8 to {SECRET_MAX_LENGTH} characters")
    return secret
