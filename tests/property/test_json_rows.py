"""A run of plain inserts goes to PostgreSQL as one JSON array (projections/db.py, `json_rows`): whichever encoder
writes it, PostgreSQL must read the very values Python's `json` would have sent, and a value JSON cannot carry
must still go row by row."""

import json
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.db import json_rows

everything = st.characters(blacklist_categories=())  # lone surrogates included
plain = st.one_of(st.none(), st.booleans(), st.integers(), st.text(), st.text(alphabet=everything))
other = st.one_of(st.floats(), st.binary(), st.just(datetime(2026, 1, 1, tzinfo=timezone.utc)))


def same(found, expected):
    """The same JSON values, types included (1 is not true), however each encoder escaped its text."""
    return json.dumps(json.loads(found)) == json.dumps(json.loads(expected))


def as_json(rows):
    try:
        return json.dumps(rows, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError):
        return None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(plain, plain, plain), min_size=1, max_size=5))
def test_plain_rows_carry_the_values_json_would(rows):
    assert same(json_rows(rows), as_json(rows))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(plain, st.one_of(plain, other)), min_size=1, max_size=5))
def test_other_values_are_written_as_json_writes_them_or_left_to_psycopg(rows):
    found, expected = json_rows(rows), as_json(rows)
    if expected is None:  # bytes, datetimes, NaN and infinities: row by row
        assert found is None
    else:
        assert same(found, expected)
