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
