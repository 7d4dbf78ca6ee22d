"""Time series read model: per product, counts per UTC hour and per UTC day (`GET /stats/products/{id}/timeseries`).

Two logs feed it, each owning its own columns, so the rows do not depend on how the two interleave
(decision 0085). The event store (the projector) gives new, expired and suspended licenses and each session's time
open; the call log (`follow_calls`, like security_events.py, tracking its position with its rows) gives validations
by outcome and error code, activations, deactivations and distinct devices. Both granularities are kept as rows, so
a day's distinct devices are exact; peaks of concurrent sessions are swept at query time (`_peaks`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

from eventsourcing.persistence import Tracking

from domain.errors import InvalidValueError
from domain.instants import utc_text
from domain.license import License
from domain.session import Session
from projections.base import ProjectionView, ReadModelProjection, iso
from projections.db import Cursor, ReadStore, Row
from projections.call_rows import BATCH, CallSource, StoredCall, settled_calls
from projections.security_events import CALL_LOG

INTERVALS: dict[str, timedelta] = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_BUCKETS = {"hour": 24 * 366, "day": 366 * 10}
"""The longest range one answer covers: a year of hours, ten years of days."""
DEFAULT_SPAN = {"hour": timedelta(hours=23), "day": timedelta(days=29)}
"""Without `from`: the last 24 hours, or the last 30 days, up to `to`."""
EARLIEST, LATEST = datetime(1000, 1, 1, tzinfo=timezone.utc), datetime(9000, 1, 1, tzinfo=timezone.utc)
"""Times a request may name: far enough from datetime's limits that a bucket's end or a default `from` fits."""
COUNTS = ("validations_succeeded", "validations_failed", "activations", "deactivations", "devices",
          "licenses_issued", "licenses_expired", "licenses_suspended")
FROM_CALLS = COUNTS[:5]
KEY = "product_id, granularity, bucket"
Key = tuple[str, str, str]
DEVICE_CHUNK = 200
"""Devices inserted per statement (4 parameters each: well inside SQLite's limit)."""


def bucket_of(at: datetime, interval: str) -> datetime:
    """The start of the UTC hour or day holding `at`."""
    utc = at if at.tzinfo is timezone.utc else at.astimezone(timezone.utc)
    hour = utc.replace(minute=0, second=0, microsecond=0)
    return hour if interval == "hour" else hour.replace(hour=0)


def _buckets(at: datetime) -> Iterator[tuple[str, str]]:
    for interval in INTERVALS:
        yield interval, iso(bucket_of(at, interval)) or ""


def text_buckets(at: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """`_buckets` of a time already in domain/instants.py's fixed-width UTC text (a call log row's `at`)."""
    return ("hour", f"{at[:13]}:00:00.000000Z"), ("day", f"{at[:10]}T00:00:00.000000Z")


class TimeseriesProjection(ReadModelProjection):
    """Licenses issued, expired and suspended per product, hour and day, and each session's time open (the
    peaks are swept from those at query time: `_peaks`)."""

    name = "timeseries"
    tables = ("timeseries", "timeseries_errors", "timeseries_devices", "timeseries_licenses", "timeseries_sessions")
    ddl = (
        "CREATE TABLE IF NOT EXISTS timeseries (product_id TEXT NOT NULL, granularity TEXT NOT NULL,"
        " bucket TEXT NOT NULL, validations_succeeded BIGINT NOT NULL DEFAULT 0,"
        " validations_failed BIGINT NOT NULL DEFAULT 0, activations BIGINT NOT NULL DEFAULT 0,"
        " deactivations BIGINT NOT NULL DEFAULT 0, devices BIGINT NOT NULL DEFAULT 0,"
        " licenses_issued BIGINT NOT NULL DEFAULT 0, licenses_expired BIGINT NOT NULL DEFAULT 0,"
        " licenses_suspended BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (product_id, granularity, bucket))",
        "CREATE TABLE IF NOT EXISTS timeseries_errors (product_id TEXT NOT NULL, granularity TEXT NOT NULL,"
        " bucket TEXT NOT NULL, error_code TEXT NOT NULL, count BIGINT NOT NULL,"
        " PRIMARY KEY (product_id, granularity, bucket, error_code))",
        "CREATE TABLE IF NOT EXISTS timeseries_devices (product_id TEXT NOT NULL, granularity TEXT NOT NULL,"
        " bucket TEXT NOT NULL, hwid TEXT NOT NULL, PRIMARY KEY (product_id, granularity, bucket, hwid))",
        "CREATE INDEX IF NOT EXISTS timeseries_devices_bucket ON timeseries_devices (granularity, bucket)",
        "CREATE TABLE IF NOT EXISTS timeseries_licenses (license_id TEXT PRIMARY KEY, product_id TEXT NOT NULL)",
        "CREATE TABLE IF NOT EXISTS timeseries_sessions (session_id TEXT PRIMARY KEY, product_id TEXT NOT NULL,"
        " started_at TEXT NOT NULL, ended_at TEXT)",
        "CREATE INDEX IF NOT EXISTS timeseries_sessions_product ON timeseries_sessions (product_id, started_at)",
    )

    def apply(self, cursor: Cursor, event: Any) -> None:
        match event:
            case License.Issued():
                cursor.execute("INSERT INTO timeseries_licenses VALUES (?, ?) ON CONFLICT (license_id) DO NOTHING",
                               (str(event.originator_id), str(event.product_id)))
                self.count(cursor, str(event.product_id), event.at, "licenses_issued")
            case License.Suspended():
                self.count_for_license(cursor, event.originator_id, event.at, "licenses_suspended")
            case License.Expired():
                self.count_for_license(cursor, event.originator_id, event.expired_at or event.at, "licenses_expired")
            case Session.Started():
                self.session_started(cursor, event)
            case Session.Ended():
                self.session_ended(cursor, event)
            case _:
                pass

    def count(self, cursor: Cursor, product_id: str, at: datetime, column: str) -> None:
        for interval, bucket in _buckets(at):
            cursor.execute(f"INSERT INTO timeseries ({KEY}, {column}) VALUES (?, ?, ?, 1) ON CONFLICT ({KEY})"
                           f" DO UPDATE SET {column} = timeseries.{column} + 1", (product_id, interval, bucket))

    def count_for_license(self, cursor: Cursor, license_id: Any, at: datetime, column: str) -> None:
        cursor.execute("SELECT product_id FROM timeseries_licenses WHERE license_id = ?", (str(license_id),))
        row = cursor.fetchone()
        if row is not None:
            self.count(cursor, row["product_id"], at, column)

    def session_started(self, cursor: Cursor, event: Any) -> None:
        cursor.execute("INSERT INTO timeseries_sessions VALUES (?, ?, ?, NULL) ON CONFLICT (session_id) DO NOTHING",
                       (str(event.originator_id), str(event.product_id), iso(event.at)))

    def session_ended(self, cursor: Cursor, event: Any) -> None:
        """The session's time open ends at the time its end records (the sweeper dates a lapse to its expiry)."""
        at = iso(event.at)
        cursor.execute("UPDATE timeseries_sessions SET ended_at = CASE WHEN started_at > ? THEN started_at ELSE ? END"
                       " WHERE session_id = ? AND ended_at IS NULL", (at, at, str(event.originator_id)))


def follow_calls(projection: TimeseriesProjection, calls: CallSource, now: datetime, limit: int = BATCH) -> int:
    """Count the call log's next `limit` records into their buckets, with the position reached, in one
    transaction (`count_calls`); returns how many records were read (0: caught up, or waiting at a gap)."""
    view: ProjectionView = projection.view
    with view.store.transaction(durable=False) as cursor:
        read = settled_calls(calls, view.claim_position(cursor, CALL_LOG), limit, now)
        count_calls(cursor, projection, read)
    view.notify_advanced()
    return len(read)


def count_calls(cursor: Cursor, projection: TimeseriesProjection, read: list[StoredCall]) -> None:
    """Count `read`, the calls past the position claimed in this transaction, and move the position past them."""
    counts, errors, devices = _tally(read)
    for key in _new_devices(cursor, devices):
        counts[key]["devices"] += 1
    _add_counts(cursor, counts)
    for (product_id, interval, bucket, code), n in errors.items():
        cursor.execute("INSERT INTO timeseries_errors VALUES (?, ?, ?, ?, ?) ON CONFLICT"
                       f" ({KEY}, error_code) DO UPDATE SET count = timeseries_errors.count + excluded.count",
                       (product_id, interval, bucket, code, n))
    if read:
        projection.view.record_tracking(cursor, Tracking(CALL_LOG, read[-1].position))
        _forget_old_devices(cursor, read[-1].at)


def _forget_old_devices(cursor: Cursor, at: str) -> None:
    """Drop the devices of buckets the log has left a whole bucket behind (its calls come in position order,
    out of time order by a commit's latency at most): their counts are final, and the rows only served to
    count each device once. The rows dropped depend on `at` alone: a rebuild drops the same ones."""
    before = datetime.fromisoformat(at)
    for interval, bucket in (("hour", text_buckets(utc_text(before - INTERVALS["hour"]))[0][1]),
                             ("day", text_buckets(utc_text(before - INTERVALS["day"]))[1][1])):
        cursor.execute("DELETE FROM timeseries_devices WHERE granularity = ? AND bucket < ?", (interval, bucket))


def _tally(calls: list[StoredCall]) -> tuple[dict[Key, Counter[str]], Counter[tuple[str, ...]], set[tuple[str, ...]]]:
    """A batch's counts per bucket, validation refusals per bucket and code, and devices seen per bucket."""
    counts: dict[Key, Counter[str]] = {}
    errors: Counter[tuple[str, ...]] = Counter()
    devices: set[tuple[str, ...]] = set()
    for call in calls:
        if call.product_id is None:
            continue
        column = _column_of(call)
        for interval, bucket in text_buckets(call.at):
            key = (call.product_id, interval, bucket)
            tally = counts.get(key)
            if tally is None:
                tally = counts[key] = Counter()
            if column is not None:
                tally[column] += 1
            if call.action == "validation" and call.error_code is not None:
                errors[(*key, call.error_code)] += 1
            if call.error_code is None and call.hwid:
                devices.add((*key, call.hwid))
    return counts, errors, devices


def _column_of(call: StoredCall) -> str | None:
    if call.action == "validation":
        return "validations_succeeded" if call.error_code is None else "validations_failed"
    if call.error_code is None and call.action in ("activation", "deactivation"):
        return f"{call.action}s"
    return None


def _new_devices(cursor: Cursor, devices: set[tuple[str, ...]]) -> Iterator[Key]:
    """Insert the devices seen; yields the bucket of each one not seen there before (exactly once each)."""
    ordered = sorted(devices)
    for start in range(0, len(ordered), DEVICE_CHUNK):
        chunk = ordered[start:start + DEVICE_CHUNK]
        cursor.execute(f"INSERT INTO timeseries_devices VALUES {', '.join(['(?, ?, ?, ?)'] * len(chunk))}"
                       f" ON CONFLICT DO NOTHING RETURNING {KEY}", [value for row in chunk for value in row])
        for row in cursor.fetchall():
            yield row["product_id"], row["granularity"], row["bucket"]


def _add_counts(cursor: Cursor, counts: dict[Key, Counter[str]]) -> None:
    updates = ", ".join(f"{column} = timeseries.{column} + excluded.{column}" for column in FROM_CALLS)
    for key, tally in sorted(counts.items()):
        if not any(tally.values()):  # only heartbeats, logouts or refusals other than validations
            continue
        cursor.execute(f"INSERT INTO timeseries ({KEY}, {', '.join(FROM_CALLS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                       f" ON CONFLICT ({KEY}) DO UPDATE SET {updates}",
                       (*key, *(tally[column] for column in FROM_CALLS)))


def checked_range(start: datetime | None, end: datetime, interval: str) -> tuple[datetime, datetime]:
    """The first and last bucket of a request (both included; no `start`: DEFAULT_SPAN before `end`);
    InvalidValueError for a range refused."""
    if interval not in INTERVALS:
        raise InvalidValueError("interval must be hour or day")
    if not all(EARLIEST <= at < LATEST for at in (start or end, end)):
        raise InvalidValueError(f"from and to must lie between the years {EARLIEST.year} and {LATEST.year - 1}")
    start = end - DEFAULT_SPAN[interval] if start is None else start
    if start > end:
        raise InvalidValueError("from must not be after to")
    first, last = bucket_of(start, interval), bucket_of(end, interval)
    if (last - first) // INTERVALS[interval] + 1 > MAX_BUCKETS[interval]:
        raise InvalidValueError(f"at most {MAX_BUCKETS[interval]} buckets of a {interval} per request")
    return first, last


def product_timeseries(store: ReadStore, product_id: str, start: datetime | None, end: datetime, interval: str
                       ) -> Row:
    """The buckets from `start`'s to `end`'s (both included), oldest first, empty ones as zeros; with `from`
    (the first one's start) and `to` (the last one's end)."""
    first, last = checked_range(start, end, interval)
    step = INTERVALS[interval]
    starts = [iso(first + n * step) or "" for n in range((last - first) // step + 1)]
    stop = iso(last + step) or ""
    params = (product_id, interval, starts[0], starts[-1])
    where = "product_id = ? AND granularity = ? AND bucket >= ? AND bucket <= ?"
    rows = {row["bucket"]: row for row in store.query(f"SELECT * FROM timeseries WHERE {where}", params)}
    errors: dict[str, dict[str, int]] = {}
    for row in store.query(f"SELECT bucket, error_code, count FROM timeseries_errors WHERE {where}", params):
        errors[row["bucket"]] = {**errors.get(row["bucket"], {}), row["error_code"]: int(row["count"])}
    buckets = [{"start": bucket, **{column: int(rows.get(bucket, {}).get(column) or 0) for column in COUNTS},
                "validation_errors": errors.get(bucket, {}), "peak_sessions": peak}
               for bucket, peak in zip(starts, _peaks(store, product_id, starts, stop))]
    return {"interval": interval, "from": starts[0], "to": stop, "buckets": buckets}


def _peaks(store: ReadStore, product_id: str, starts: list[str], stop: str) -> list[int]:
    """The most sessions open at one instant in each bucket: a sweep over the sessions' [started, ended) times. It
    depends on the set of sessions alone, not on the order their events were applied in (the sweeper records a
    lapse late, dated back to the expiry). Times are fixed-width UTC text: they sort."""
    changes: Counter[str] = Counter()
    for row in store.query("SELECT started_at, ended_at FROM timeseries_sessions WHERE product_id = ?"
                           " AND started_at < ? AND (ended_at IS NULL OR ended_at > ?)", (product_id, stop, starts[0])):
        changes[max(row["started_at"], starts[0])] += 1
        if row["ended_at"] is not None and row["ended_at"] < stop:
            changes[row["ended_at"]] -= 1
    times = sorted(changes)
    peaks, open_now, i = [], 0, 0
    for n, bucket in enumerate(starts):
        following = starts[n + 1] if n + 1 < len(starts) else stop
        while i < len(times) and times[i] <= bucket:  # what holds at the bucket's first instant
            open_now, i = open_now + changes[times[i]], i + 1
        peak = open_now
        while i < len(times) and times[i] < following:
            open_now, i = open_now + changes[times[i]], i + 1
            peak = max(peak, open_now)
        peaks.append(peak)
    return peaks


__all__ = ["TimeseriesProjection", "checked_range", "follow_calls", "product_timeseries"]
