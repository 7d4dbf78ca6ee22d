"""Stored instants are text (domain/instants.py): fixed width, UTC, and in the order of the instants."""

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from domain.instants import utc_text

zones = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda minutes: timezone(timedelta(minutes=minutes)))
instants = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30),
                        timezones=st.just(timezone.utc))


@given(instants, zones)
def test_an_instant_reads_the_same_in_every_zone_and_as_iso_8601_utc(at, zone):
    text = utc_text(at)
    assert text == at.isoformat(timespec="microseconds").replace("+00:00", "Z")
    assert utc_text(at.astimezone(zone)) == text and len(text) == 27
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == at


@given(instants, instants)
def test_texts_sort_as_their_instants(first, second):
    assert (utc_text(first) < utc_text(second)) == (first < second)


@given(instants, zones)
def test_a_call_rows_text_falls_in_the_buckets_of_its_instant(at, zone):
    from projections.timeseries import _buckets, text_buckets  # the call log's follower reads text, the projector times

    assert text_buckets(utc_text(at.astimezone(zone))) == tuple(_buckets(at.astimezone(zone)))


@given(instants, zones)
def test_a_call_rows_text_reads_back_as_its_instant(at, zone):
    from projections.call_rows import StoredCall

    call = StoredCall(1, utc_text(at.astimezone(zone)), "validation", None, None, None, None, None, None, None, "{}")
    assert call.record().at == at
