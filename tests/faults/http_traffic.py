"""Mixed traffic over real HTTP, from several threads, played as a careful client plays it.

Vendor writes carry an `Idempotency-Key` and are sent again on 503, 409 IDEMPOTENCY_KEY_IN_USE or
a broken connection until their outcome is known, as decision 0002 tells a client to; client
calls (activate, validate, heartbeat, deactivate) are sent once. The traffic keeps what a
fault test checks afterwards: which licenses were acknowledged, and every answer that broke a
promise (a 500, a 503 without Retry-After, a write whose outcome was never learnt).
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from uuid import UUID

import httpx

OUTCOME_RETRY_SECONDS = 60.0
"""How long a write is sent again after the traffic ends, for its outcome."""


class Traffic:
    def __init__(self, base: str, token: str, product_id: str, licenses: list[dict]) -> None:
        self.base, self.product_id = base, product_id
        self.keys = [row["license_key"] for row in licenses]
        self.headers = {"Authorization": f"Bearer {token}"}
        self.acknowledged: set[UUID] = {UUID(row["id"]) for row in licenses}
        self.license_ids: list[str] = [row["id"] for row in licenses]
        self.server_errors: list[str] = []
        self.unanswered_503s: list[str] = []
        self.unresolved: set[str] = set()
        self.answers: Counter[tuple[str, int]] = Counter()
        self._lock = threading.Lock()

    def run(self, seconds: float, threads: int = 4, until: dict[tuple[str, int], int] | None = None) -> None:
        """Drive traffic for `seconds`, and on until the answers counted reach `until` (a slow machine needs
        longer; at most ten times `seconds`)."""
        start = time.monotonic()
        soft, hard, wanted = start + seconds, start + 10 * seconds, until or {}

        def passed() -> bool:
            now = time.monotonic()
            return now >= hard or (now >= soft and all(self.answers[kind] >= n for kind, n in wanted.items()))

        workers = [threading.Thread(target=self._drive, args=(passed, n)) for n in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()

    def _drive(self, passed: Callable[[], bool], seed: int) -> None:
        rng = random.Random(seed)
        tokens: dict[tuple[str, str], str] = {}
        with httpx.Client(base_url=self.base, timeout=30) as client:
            while not passed():
                roll = rng.random()
                if roll < 0.2:
                    self._create(client, rng)
                elif roll < 0.3 and self.license_ids:
                    self._suspend_or_reinstate(client, rng)
                else:
                    self._client_call(client, rng, tokens)

    def _create(self, client: httpx.Client, rng: random.Random) -> None:
        body = {"product_id": self.product_id, "max_uses": rng.randint(1, 3)}
        answer = self._until_known(client, "POST", "/licenses", body)
        if answer is None:
            return
        if answer.status_code == 201:
            license_id = answer.json()["data"]["id"]
        else:  # recorded, its answer lost: what it recorded besides the product is the license
            license_id = next(i for i in answer.json()["recorded_ids"] if i != self.product_id)
        with self._lock:
            self.acknowledged.add(UUID(license_id))
            self.license_ids.append(license_id)

    def _suspend_or_reinstate(self, client: httpx.Client, rng: random.Random) -> None:
        license_id = rng.choice(self.license_ids)
        self._until_known(client, "PUT", f"/licenses/{license_id}",
                          {"status": rng.choice(["suspended", "active"])})

    def _until_known(self, client: httpx.Client, method: str, path: str, body: dict) -> httpx.Response | None:
        """Send a write with a key until its outcome is known: the answer, or None if it never became known."""
        key, give_up, in_use = uuid.uuid4().hex, time.monotonic() + OUTCOME_RETRY_SECONDS, 0
        while time.monotonic() < give_up:
            try:
                answer = client.request(method, path, json=body, headers={**self.headers, "Idempotency-Key": key})
            except httpx.TransportError:
                time.sleep(0.2)
                continue
            self._note(method + " " + path.split("/")[1], answer)
            if answer.status_code == 409 and answer.json().get("error_code") == "IDEMPOTENCY_KEY_IN_USE":
                in_use += 1
                if in_use >= 5:  # recorded; its first request ended without an answer to keep
                    return answer
            elif answer.status_code not in (503, 500):
                return answer
            time.sleep(float(answer.headers.get("retry-after", "1")) * 0.2)
        with self._lock:
            self.unresolved.add(key)
        return None

    def _client_call(self, client: httpx.Client, rng: random.Random, tokens: dict[tuple[str, str], str]) -> None:
        key, hwid = rng.choice(self.keys), rng.choice(["hw-a", "hw-b", "hw-c"])
        call = {"license_key": key, "hwid": hwid, "product_id": self.product_id}
        action = rng.choice(["activate", "validate", "validate", "deactivate", "heartbeat"])
        if action == "heartbeat":
            if (key, hwid) not in tokens:
                return
            call["session_token"] = tokens[(key, hwid)]
        try:
            answer = client.post(f"/client/{action}", json=call)
        except httpx.TransportError as error:
            with self._lock:
                self.server_errors.append(f"{action}: {error!r}")
            return
        self._note(action, answer)
        if answer.status_code == 200 and action in ("activate", "heartbeat"):
            data = answer.json()["data"]
            tokens[(key, hwid)] = data["session"]["token"] if action == "activate" else data["new_token"]

    def _note(self, what: str, answer: httpx.Response) -> None:
        with self._lock:
            self.answers[(what, answer.status_code)] += 1
            if answer.status_code >= 500 and answer.status_code != 503:
                self.server_errors.append(f"{what}: {answer.status_code} {answer.text[:200]}")
            elif answer.status_code == 503 and "retry-after" not in answer.headers:
                self.unanswered_503s.append(f"{what}: {answer.text[:200]}")


def open_vendor(base: str, license_count: int = 30) -> Traffic:
    """Register a vendor, create an Ed25519 product and a first batch of licenses: the traffic they make.
    A 503 (read models still starting on a busy machine) is waited out, as a client would."""
    email, password = f"v{uuid.uuid4().hex[:8]}@example.com", "secret123"
    with httpx.Client(base_url=base, timeout=30) as client:
        registered = _settled(client, "POST", "/auth/register", {"email": email, "password": password})
        if registered.status_code != 201:  # recorded, its read model late: the account exists
            registered = _settled(client, "POST", "/auth/login", {"email": email, "password": password})
        headers = {"Authorization": f"Bearer {registered.json()['data']['token']}"}
        product = _settled(client, "POST", "/products", {"name": "Faults", "signing_algorithm": "ed25519"},
                           headers)
        issued = _settled(client, "POST", "/licenses/bulk", {"product_id": product.json()["data"]["id"],
                                                             "count": license_count, "max_uses": 2}, headers)
        assert issued.status_code == 201, issued.text
        return Traffic(base, headers["Authorization"][7:], product.json()["data"]["id"],
                       issued.json()["data"]["licenses"])


def _settled(client: httpx.Client, method: str, path: str, body: dict, headers: dict | None = None,
             seconds: float = 60.0) -> httpx.Response:
    """The answer to a setup write, sent again with the same Idempotency-Key while it answers 503."""
    headers = {**(headers or {}), "Idempotency-Key": uuid.uuid4().hex}
    give_up = time.monotonic() + seconds
    while True:
        answer = client.request(method, path, json=body, headers=headers)
        if answer.status_code != 503 or time.monotonic() > give_up:
            return answer
        time.sleep(float(answer.headers.get("retry-after", "1")) * 0.5)
