"""Peak concurrent sessions: whatever order the sessions' starts and ends are applied in (the sweeper dates a
lapse back to the session's expiry, so ends arrive out of time order), and however often, each bucket's peak is
the most sessions open at one instant of it."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.base import ProjectionView, iso
from projections.db import SQLiteReadStore
from projections.timeseries import TimeseriesProjection, product_timeseries

START = datetime(2026, 1, 15, tzinfo=timezone.utc)
minutes = st.integers(0, 6 * 60)
sessions = st.lists(st.tuples(minutes, st.one_of(st.none(), st.integers(0, 3 * 60))), max_size=12)


def open_at(intervals, at):
    return sum(1 for start, end in intervals if start <= at and (end is None or at < end))


def brute_force_peak(intervals, bucket_start, bucket_end):
    """The count at the bucket's start and just after every start or end inside it: the count only changes there."""
    instants = [bucket_start] + [t for start, end in intervals for t in (start, end)
                                 if t is not None and bucket_start <= t < bucket_end]
    return max(open_at(intervals, at) for at in instants)


def in_store_order(events):
    """The events as drawn, except that an end waits until its session's start has come."""
    ordered, started, waiting = [], set(), []
    for event in events:
        if event.kind == "end" and event.originator_id not in started:
            waiting.append(event)
            continue
        ordered.append(event)
        started.add(event.originator_id)
        ordered += [end for end in waiting if end.originator_id == event.originator_id]
        waiting = [end for end in waiting if end.originator_id != event.originator_id]
    return ordered


def test_peaks_are_exact_whatever_order_the_events_arrive_in(tmp_path):
    store = SQLiteReadStore(tmp_path / "read.sqlite3")
    projection = TimeseriesProjection(view=ProjectionView(store, TimeseriesProjection.name))
    projection.create_tables()

    @settings(max_examples=100, deadline=None)
    @given(data=st.data(), drawn=sessions)
    def property_holds(data, drawn):
        product = uuid.uuid4()
        events = []
        for start, length in drawn:
            session_id = uuid.uuid4()
            events.append(SimpleNamespace(kind="start", originator_id=session_id, product_id=product,
                                          at=START + timedelta(minutes=start)))
            if length is not None:
                events.append(SimpleNamespace(kind="end", originator_id=session_id,
                                              at=START + timedelta(minutes=start + length)))
        # Any order in which a start precedes its own end (the store's order), some events applied twice.
        ordered = in_store_order(data.draw(st.permutations(events)))
        repeated = ordered + data.draw(st.lists(st.sampled_from(ordered), max_size=3)) if ordered else []
        with store.transaction() as cursor:
            for event in repeated:
                if event.kind == "start":
                    projection.session_started(cursor, event)
                else:
                    projection.session_ended(cursor, event)

        answer = product_timeseries(store, str(product), START, START + timedelta(hours=9), "hour")["buckets"]

        intervals = [(start, None if length is None else start + length) for start, length in drawn]
        expected = [brute_force_peak([(s, e) for s, e in intervals if e is None or e > s], hour * 60, hour * 60 + 60)
                    for hour in range(10)]
        assert [bucket["peak_sessions"] for bucket in answer] == expected
        assert [bucket["start"] for bucket in answer] == [iso(START + timedelta(hours=h)) for h in range(10)]

    property_holds()
    store.close()
