"""Rate limits: how often an account, an address or a client may call, counted per window.

One function, `decide`, decides for every request once its keys were counted: on the event loop, never blocking it
(`check_async`, `check_client_async`), or on a worker thread (`check_client`). The vendor API is counted at the
application's entry (api/app.py), before the direct front door and routing, on the account (before login, the
address); a client call where its body is read (`_validation` in api/controllers/client.py, else `client_request`),
on product + license key + device and on its address. A refusal is 429 with Retry-After; a key's first refusal in its
window alone raises a `rate_limit_exceeded` alert (counts are atomic). Why: docs/decisions/0050-rate-limits.md.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, NamedTuple, Protocol
from uuid import UUID

import msgspec
from litestar.types import Message, Send

from domain.refusals import RateLimitedError

log = logging.getLogger(__name__)

QUOTA = "keyledger.rate_limit"
"""Where a request's scope state keeps the tightest `Quota` it was counted against."""

CLIENT_PATHS = ("/api/client/", "/api/v1/")


class Counters(Protocol):
    """Atomic counters whose window opens at a key's first hit (adapters/counters.py)."""

    def hit(self, keys: Sequence[str], windows: Sequence[float], slices: Sequence[int] = ()
            ) -> list[tuple[int, float]]: ...
    async def hit_async(self, keys: Sequence[str], windows: Sequence[float], slices: Sequence[int] = ()
                        ) -> list[tuple[int, float]]: ...
    def peek(self, key: str) -> int: ...
    def clear(self, key: str) -> None: ...


class Quota(NamedTuple):
    """One key's standing after a request: what RateLimit-* headers say of it."""

    key: str
    limit: int
    count: int
    reset: float
    window: int

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    @property
    def refused(self) -> bool:
        return self.count > self.limit


async def check_async(runtime: Any, scope: Any, rules: Sequence[tuple[str, int]], product_id: UUID | None = None,
                      hwid: str | None = None) -> Quota | None:
    """Count this request against each (key, limit) whose limit is on (not 0), and decide (`decide`); counting
    never blocks the event loop (adapters/counters.py)."""
    rules = [(key, limit) for key, limit in rules if limit > 0]
    if not rules:
        return None
    window = runtime.settings.rate_limit_window_seconds
    hits = await runtime.counters.hit_async([key for key, _ in rules], [window] * len(rules), _slices(rules))
    return decide(runtime, scope, rules, hits, product_id, hwid)


SLICE = 100
"""A process takes a key's counts from Redis a hundredth of its limit at a time (adapters/counters.py): a limit
under 200 is counted exactly, a larger one reached at most a hundredth of it early per process."""


def _slices(rules: Sequence[tuple[str, int]]) -> list[int]:
    return [max(1, limit // SLICE) for _, limit in rules]


def decide(runtime: Any, scope: Any, rules: Sequence[tuple[str, int]], hits: Sequence[tuple[int, float]],
           product_id: UUID | None, hwid: str | None) -> Quota:
    """The one limiter decision: keep the tightest quota in the scope for the answer's headers and return it;
    the first refusal of a key in its window raises its alert."""
    window = runtime.settings.rate_limit_window_seconds
    tightest, refused = -1, False
    for index, ((key, limit), (count, reset)) in enumerate(zip(rules, hits)):  # a loop: this runs on every call
        if count > limit:
            if count == limit + 1:  # the key's first refusal in its window
                _alert(runtime, scope, Quota(key, limit, count, reset, window), product_id, hwid)
            if not refused or reset > hits[tightest][1]:
                tightest, refused = index, True
        elif not refused and (tightest < 0 or limit - count < rules[tightest][1] - hits[tightest][0]):
            tightest = index
    assert tightest >= 0  # rules is never empty
    (key, limit), (count, reset) = rules[tightest], hits[tightest]
    quota = Quota(key, limit, count, reset, window)
    state = scope.setdefault("state", {})
    kept = state.get(QUOTA)
    if kept is None or refused or (not kept.refused and quota.remaining < kept.remaining):
        state[QUOTA] = quota
    return quota


async def check_vendor(runtime: Any, scope: Any, account_id: UUID | None) -> Quota | None:
    """The vendor API's limit: per account, or per address before login."""
    key = f"a:{account_id}" if account_id is not None else f"i:{_ip(scope)}"
    return await check_async(runtime, scope, [(key, runtime.settings.rate_limit_api)])


def check_client(runtime: Any, scope: Any, product_id: UUID | None, license_key: str, hwid: str | None) -> None:
    """A client call's limits: per client (product + key + device), and per address; over either, refused."""
    if (plan := _plan_of(runtime.settings)) is not None:
        keys = _client_keys(plan, scope, product_id, license_key, hwid)
        hits = runtime.counters.hit(keys, plan.windows, plan.slices)
        _refuse_over(decide(runtime, scope, list(zip(keys, plan.limits)), hits, product_id, hwid))


async def check_client_async(runtime: Any, scope: Any, product_id: UUID | None, license_key: str,
                             hwid: str | None) -> None:
    """`check_client` on the event loop (the validation's hot path)."""
    if (plan := _plan_of(runtime.settings)) is not None:
        keys = _client_keys(plan, scope, product_id, license_key, hwid)
        hits = await runtime.counters.hit_async(keys, plan.windows, plan.slices)
        _refuse_over(decide(runtime, scope, list(zip(keys, plan.limits)), hits, product_id, hwid))


class _ClientPlan(NamedTuple):
    """What a client call is counted against under given settings: which keys ("v" the client, "c" its
    address), with their limits, windows and slices; built once, as the call path runs on every validation."""

    kinds: tuple[str, ...]
    limits: tuple[int, ...]
    windows: list[float]
    slices: list[int]


def _plan_of(settings: Any) -> _ClientPlan | None:
    return _client_plan(settings.rate_limit_validation, settings.rate_limit_client_ip,
                        settings.rate_limit_window_seconds)


@lru_cache(maxsize=8)
def _client_plan(validation: int, client_ip: int, window: float) -> _ClientPlan | None:
    rules = [(kind, limit) for kind, limit in (("v", validation), ("c", client_ip)) if limit > 0]
    if not rules:
        return None
    return _ClientPlan(tuple(kind for kind, _ in rules), tuple(limit for _, limit in rules), [window] * len(rules),
                       _slices(rules))


def _client_keys(plan: _ClientPlan, scope: Any, product_id: UUID | None, license_key: str,
                 hwid: str | None) -> list[str]:
    return [_client_key(product_id, license_key, hwid) if kind == "v" else f"c:{_ip(scope)}" for kind in plan.kinds]


_CLIENT_KEYS: dict[tuple[UUID | None, str, str | None], str] = {}
"""Each recent client's counter key: a device validates again and again, and its key is a hash."""
CLIENT_KEYS_KEPT = 16_384


def _client_key(product_id: UUID | None, license_key: str, hwid: str | None) -> str:
    """The client's counter key: a hash, so neither license key nor device is stored in the clear."""
    found = _CLIENT_KEYS.get((product_id, license_key, hwid))
    if found is not None:
        return found
    product = product_id.bytes if product_id is not None else b""
    key = "v:" + hashlib.blake2b(b"%s\0%s\0%s" % (product, license_key.encode(), (hwid or "").encode()),
                                 digest_size=16).hexdigest()
    if len(_CLIENT_KEYS) >= CLIENT_KEYS_KEPT:
        _CLIENT_KEYS.clear()
    _CLIENT_KEYS[product_id, license_key, hwid] = key
    return key


def _refuse_over(quota: Quota | None) -> None:
    if quota is not None and quota.refused:
        raise RateLimitedError(f"Too many requests; retry in {retry_after(quota)} s")


def is_client_path(path: str) -> bool:
    return path.startswith(CLIENT_PATHS)


def retry_after(quota: Quota) -> int:
    return max(1, math.ceil(quota.reset))


def headers_of(quota: Quota, status: int) -> list[tuple[bytes, bytes]]:
    headers = [(b"ratelimit-limit", b"%d" % quota.limit), (b"ratelimit-remaining", b"%d" % quota.remaining),
               (b"ratelimit-reset", b"%d" % math.ceil(quota.reset)),
               (b"ratelimit-policy", b"%d;w=%d" % (quota.limit, quota.window))]
    if status == 429:
        headers.append((b"retry-after", b"%d" % retry_after(quota)))
    return headers


def with_quota_headers(scope: Any, send: Send) -> Send:
    """`send`, adding the RateLimit-* headers of the quota the request was counted against to its answer."""

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            quota = scope.get("state", {}).get(QUOTA)
            if quota is not None:
                message["headers"] = [*message.get("headers", ()), *headers_of(quota, message["status"])]
        await send(message)

    return sending


def refused_answer(quota: Quota) -> bytes:
    return msgspec.json.encode({"success": False, "message": f"Too many requests; retry in {retry_after(quota)} s",
                                "error_code": RateLimitedError.code})


def _ip(scope: Any) -> str | None:
    client = scope.get("client")
    return client[0] if client else None


def _alert(runtime: Any, scope: Any, quota: Quota, product_id: UUID | None, hwid: str | None) -> None:
    """One `rate_limit_exceeded` alert for the key's window; a failure to record it does not fail the answer."""
    details = {"limit": quota.limit, "window_seconds": quota.window, "scope": _kind(quota.key),
               "path": scope.get("path")}
    try:
        runtime.ledger.raise_security_alert("rate_limit_exceeded", "medium", product_id, None, _ip(scope), hwid, True,
                                            details, runtime.clock())
    except Exception:
        log.exception("could not record a rate_limit_exceeded alert")


def _kind(key: str) -> str:
    return {"a": "account", "i": "ip", "v": "client", "c": "client_ip"}[key[0]]
