"""GET /api/events/stream: Server-Sent Events of the caller's products' events, live and resumable."""

from __future__ import annotations

import queue
import time
from typing import Any
from urllib.parse import urlencode

import anyio
import pytest

from api.controllers import events as stream_controller
from tests.conftest import LIMITS_OFF, auth, create_license, create_product, register, seed_keys, settle
from keyledger.settings import Settings

KEEPALIVE = 0.3


@pytest.fixture
def settings(tmp_path, database_url, signing_pems):
    seed_keys(tmp_path / "var", signing_pems)
    return Settings(data_dir=str(tmp_path / "var"), database_url=database_url, consistency_timeout=10.0,
                    password_profile="CHEAPEST", stream_keepalive_seconds=KEEPALIVE, **LIMITS_OFF)


class EventStream:
    """An SSE answer read as it arrives: the app is called on the test client's event loop and its body handed
    over chunk by chunk (the test client itself returns an answer only once it has ended); `close` disconnects."""

    def __init__(self, client: Any, token: str, headers: dict[str, str] | None = None, **query: Any) -> None:
        self.portal = client.blocking_portal
        self.sent: queue.Queue[dict[str, Any]] = queue.Queue()
        self.text = ""
        self.ended = False
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
                 "scheme": "http", "path": "/api/events/stream", "raw_path": b"/api/events/stream",
                 "query_string": urlencode(query).encode(), "root_path": "", "client": ("testclient", 50000),
                 "server": ("testserver", 80), "headers": [(name.lower().encode(), value.encode()) for name, value in
                                                           {**auth(token), **(headers or {})}.items()]}
        self.gone = self.portal.call(anyio.Event)
        self.task = self.portal.start_task_soon(self._call, client.app, scope)
        self.start = self.sent.get(timeout=10)
        self.status = self.start["status"]

    async def _call(self, app: Any, scope: dict[str, Any]) -> None:
        asked = False

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            self.sent.put(message)

        await app(scope, receive, send)

    def frames(self, count: int, timeout: float = 10.0, comments: bool = False) -> list[dict[str, Any]]:
        """The next `count` messages (keep-alive comments too, when asked), each as its fields."""
        found: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(found) < count:
            while "\n\n" not in self.text:
                message = self.sent.get(timeout=max(0.0, deadline - time.monotonic()))
                self.text += message.get("body", b"").decode()
                if not message.get("more_body", False):
                    self.ended = True
                    if "\n\n" not in self.text:
                        return found
            frame, self.text = self.text.split("\n\n", 1)
            if frame.startswith(":"):
                if comments:
                    found.append({"comment": frame[1:].strip()})
                continue
            found.append(dict(line.split(": ", 1) for line in frame.split("\n")))
        return found

    def close(self) -> None:
        """Disconnect, and check the stream ended."""
        self.portal.call(self.gone.set)
        self.task.result(timeout=10)


def read_all(client, token, headers=None, **query):
    """Everything the stream holds after the resume point, up to now (`follow=false` ends there)."""
    answer = client.get("/api/events/stream", params={"follow": "false", **query},
                        headers={**auth(token), **(headers or {})})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    frames = [frame for frame in answer.text.split("\n\n") if frame and not frame.startswith(":")]
    return [dict(line.split(": ", 1) for line in frame.split("\n")) for frame in frames]


def suspend(client, token, license_id):
    answer = client.put(f"/api/licenses/{license_id}", json={"status": "suspended"}, headers=auth(token))
    assert answer.status_code == 200, answer.text


def test_a_vendor_sees_its_products_events_live_and_an_admin_sees_every_vendors(client, runtime, admin_token,
                                                                                vendor_token):
    other_token = register(client, "other@example.com")
    product = create_product(client, vendor_token)
    license = create_license(client, vendor_token, product["id"])
    settle(runtime)
    mine, everyone = EventStream(client, vendor_token), EventStream(client, admin_token)
    try:
        assert mine.status == 200 and (b"content-type", b"text/event-stream; charset=utf-8") in mine.start["headers"]
        create_product(client, other_token, "Theirs")
        suspend(client, vendor_token, license["id"])
        # Check the vendor gets its suspension and nothing of the other vendor's; the admin gets both.
        [suspended] = mine.frames(1)
        assert suspended["event"] == "License.Suspended"
        data = stream_controller.msgspec.json.decode(suspended["data"])
        assert data["aggregate_id"] == license["id"] and int(suspended["id"]) == data["position"]
        assert set(data) == {"position", "aggregate_id", "version", "type", "at", "changes"}
        assert [frame["event"] for frame in everyone.frames(2)] == ["Product.Created", "License.Suspended"]
    finally:
        mine.close()
        everyone.close()


def test_a_stream_resumed_after_an_id_misses_nothing_and_repeats_nothing(client, runtime, vendor_token,
                                                                         monkeypatch):
    monkeypatch.setattr(stream_controller, "PAGE", 2)  # several pages even for a few events
    product = create_product(client, vendor_token)
    licenses = [create_license(client, vendor_token, product["id"]) for _ in range(3)]
    settle(runtime)
    wanted = "Product.Created,License.Issued,License.Suspended"
    everything = read_all(client, vendor_token, last_event_id=0, type=wanted)
    assert [frame["event"] for frame in everything] == ["Product.Created"] + ["License.Issued"] * 3
    # Check a live stream, broken off and resumed from the last id received, gets every later event once.
    first = EventStream(client, vendor_token, headers={"Last-Event-ID": everything[1]["id"]}, type=wanted)
    received = first.frames(2)
    first.close()
    for license in licenses:
        suspend(client, vendor_token, license["id"])
    second = EventStream(client, vendor_token, headers={"Last-Event-ID": received[-1]["id"]}, type=wanted)
    received += second.frames(3)
    second.close()
    assert received == read_all(client, vendor_token, last_event_id=everything[1]["id"], type=wanted)
    # Check the header wins over the query parameter (a browser resumes with the header, same URL).
    assert read_all(client, vendor_token, headers={"Last-Event-ID": everything[1]["id"]}, last_event_id=0,
                    type=wanted) == received


def test_a_stream_filters_by_type_and_by_product(client, runtime, vendor_token):
    first, second = create_product(client, vendor_token, "One"), create_product(client, vendor_token, "Two")
    license = create_license(client, vendor_token, first["id"])
    create_license(client, vendor_token, second["id"])
    suspend(client, vendor_token, license["id"])
    settle(runtime)
    issued = read_all(client, vendor_token, last_event_id=0, type="License.Issued,License.Suspended",
                      product_id=first["id"])
    assert [frame["event"] for frame in issued] == ["License.Issued", "License.Suspended"]
    assert {stream_controller.msgspec.json.decode(f["data"])["aggregate_id"] for f in issued} == {license["id"]}
    assert [frame["event"] for frame in read_all(client, vendor_token, last_event_id=0, product_id=second["id"])] \
        == ["Product.Created", "Product.LicensesIssued", "License.Issued"]


def test_a_quiet_stream_sends_keep_alives_and_ends_when_the_server_stops(client, runtime, vendor_token):
    stream = EventStream(client, vendor_token)
    # Check a quiet stream says it is alive every KEEPALIVE seconds.
    assert stream.frames(2, comments=True) == [{"comment": "keep-alive"}] * 2
    runtime.events.close()  # what SIGTERM and Runtime.close do
    assert stream.frames(1, timeout=5) == [] and stream.ended
    stream.close()


BAD_INPUT = [
    ({"last_event_id": 10_000}, {}, 400),  # past the head
    ({}, {"Last-Event-ID": "10000"}, 400),
    ({}, {"Last-Event-ID": "abc"}, 400),
    ({}, {"Last-Event-ID": "\u00b2".encode("latin-1")}, 400),  # a digit, not an ASCII one
    ({"last_event_id": -1}, {}, 400),
    ({"type": "License.Nonsense"}, {}, 400),
    ({"type": ","}, {}, 400),
    ({"follow": "perhaps"}, {}, 400),
    ({"product_id": "not-a-uuid"}, {}, 400),
    ({"product_id": "00000000-0000-4000-8000-000000000000"}, {}, 404),
]


def test_bad_input_is_refused_in_the_error_envelope(client, vendor_token):
    for query, headers, status in BAD_INPUT:
        answer = client.get("/api/events/stream", params=query, headers={**auth(vendor_token), **headers})
        assert answer.status_code == status, (query, headers, answer.text)
        assert answer.json()["success"] is False
        assert answer.json()["error_code"] == ("PRODUCT_NOT_FOUND" if status == 404 else "VALIDATION_ERROR")
    # Check another vendor's product answers as a missing one does, and no token is a 401.
    theirs = create_product(client, register(client, "other@example.com"), "Theirs")
    answer = client.get("/api/events/stream", params={"product_id": theirs["id"]}, headers=auth(vendor_token))
    assert answer.status_code == 404 and answer.json()["error_code"] == "PRODUCT_NOT_FOUND"
    assert client.get("/api/events/stream", params={"follow": "false"}).status_code == 401
