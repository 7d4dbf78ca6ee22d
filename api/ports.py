"""What the API is handed, typed by what it uses: keyledger/wiring.py's Runtime supplies each."""

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any, Protocol

from api.idempotency import AnswerStore
from api.ratelimit import Counters
from commands.client_gate import ClientGate
from commands.ledger import Ledger
from domain.product import ClientCompatibility, SigningAlgorithm
from keys.signing import SigningKey
from projections.audit_chain import ChainSource
from projections.db import ReadStore
from projections.license_logs import CallHistory


class EphemeralStore(Protocol):
    """Keys that expire; `claim` and `take` are atomic, so a value is used at most once."""

    def claim(self, key: str, ttl_seconds: float) -> bool: ...
    def put(self, key: str, value: str, ttl_seconds: float) -> None: ...
    def take(self, key: str) -> str | None: ...


class Signer(Protocol):
    """Signs answers without blocking the event loop for long."""

    async def sign(self, key: SigningKey, message: bytes) -> str: ...


class AttemptOutcome(Protocol):
    """How a webhook endpoint answered one attempt."""

    @property
    def status_code(self) -> int | None: ...
    @property
    def response_time_ms(self) -> int: ...
    @property
    def error(self) -> str | None: ...


class WebhookSender(Protocol):
    """Posts one signed webhook body; never raises for what the receiver or the network did."""

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> AttemptOutcome: ...


class ChainFollower(Protocol):
    """Links what the store holds into the audit chain now."""

    def catch_up(self) -> int: ...


class AuditTrail(Protocol):
    """The audit chains (keyledger/audit.py): the logs they cover, their keeper, the checkpoints' key."""

    key: SigningKey
    sources: Mapping[str, ChainSource]
    keeper: ChainFollower


class EventFeed(Protocol):
    """The event store in position order, and a bell rung whenever it (or a read model here) may have moved."""

    @property
    def rings(self) -> int: ...
    @property
    def closed(self) -> bool: ...
    def head(self) -> int: ...
    def read(self, after: int, upto: int, limit: int) -> list[tuple[int, Any]]: ...
    async def wait(self, rings: int, timeout: float) -> int:
        """Wait until rung after `rings`, closed (the server stops), or `timeout` s passed; the rings now."""


class ApiSettings(Protocol):
    """The settings a request reads."""

    @property
    def client_compatibility(self) -> ClientCompatibility: ...
    @property
    def jwt_ttl_seconds(self) -> int: ...
    @property
    def consistency_timeout(self) -> float: ...
    @property
    def rate_limit_api(self) -> int: ...
    @property
    def rate_limit_validation(self) -> int: ...
    @property
    def rate_limit_client_ip(self) -> int: ...
    @property
    def rate_limit_window_seconds(self) -> float: ...
    @property
    def brute_force_logins(self) -> int: ...
    @property
    def brute_force_unknown_keys(self) -> int: ...
    @property
    def brute_force_window_seconds(self) -> float: ...
    @property
    def brute_force_block_seconds(self) -> float: ...
    @property
    def stream_keepalive_seconds(self) -> float: ...


class Services(Protocol):
    """What a request may use: the commands (validations through the client gate), the read store, the call
    history, read-your-writes, keys, the signer, the ephemeral store, kept answers (api/idempotency.py) and
    the clock."""

    ledger: Ledger
    gate: ClientGate
    store: ReadStore
    calls: CallHistory
    settings: ApiSettings
    master_key: bytes
    jwt_secret: bytes
    signing_keys: dict[SigningAlgorithm, SigningKey]
    signer: Signer
    ephemeral: EphemeralStore
    answers: AnswerStore
    webhook_poster: WebhookSender
    audit: AuditTrail | None
    counters: Counters
    events: EventFeed

    def clock(self) -> datetime: ...

    def wait_for(self, position: int, models: Collection[str] | None = None, timeout: float | None = None) -> None:
        """Wait until the read models in `models` (all without) reach `position`; ReadModelsBehindError past
        the deadline."""

    def wait_for_dispatch(self, position: int) -> None:
        """Wait until the webhook dispatcher has taken `position`; ReadModelsBehindError past the deadline."""

    def read_model_status(self) -> list[dict[str, Any]]: ...
    def close(self) -> None: ...
