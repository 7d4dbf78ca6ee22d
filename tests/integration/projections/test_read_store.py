"""A run of inserts into a read model lands as written, in order, on both stores: on PostgreSQL a plain INSERT
of a few rows goes out as one statement (projections/db.py, `set_insert`)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from keyledger.wiring import build_read_store
from projections.db import plain_insert, set_insert

ITEMS = "CREATE TABLE items (id TEXT PRIMARY KEY, n INTEGER, note TEXT)"
TRICKY = ['quote " and \\ backslash', "line\nbreak", "ünïcödé ✓", "", None, "{\"json\": [1]}"]


@pytest.fixture
def store(settings):
    store = build_read_store(settings)
    with store.transaction() as cursor:
        cursor.execute(ITEMS)
    yield store
    store.close()


def items(store) -> list[tuple]:
    return [(row["id"], row["n"], row["note"]) for row in store.query("SELECT id, n, note FROM items ORDER BY id")]


def test_a_batch_skipping_conflicts_keeps_every_value_and_the_first_of_each_id(store):
    with store.transaction() as cursor:
        cursor.execute("INSERT INTO items VALUES (?, ?, ?)", ("a0", 7, "stored before"))
    rows = [(f"a{index}", index * 100_000_007, note) for index, note in enumerate(TRICKY)]
    rows += [("a1", -1, "a second a1 in the batch"), ("b", None, None)]

    with store.transaction() as cursor:
        cursor.executemany("INSERT INTO items (id, n, note) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING", rows)

    expected = [("a0", 7, "stored before")] + [(f"a{index}", index * 100_000_007, note)
                                               for index, note in enumerate(TRICKY) if index] + [("b", None, None)]
    assert items(store) == expected


def test_a_run_of_one_statement_lands_like_its_rows_one_by_one(store):
    with store.transaction() as cursor:
        for index in range(5):
            cursor.execute("INSERT INTO items VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING", (f"r{index}", index, "x"))
        cursor.execute("UPDATE items SET note = ? WHERE id = ?", ("changed after the run", "r4"))

    assert items(store) == [(f"r{index}", index, "x") for index in range(4)] + [("r4", 4, "changed after the run")]


def test_a_batch_that_breaks_a_key_stores_none_of_it(store):
    with pytest.raises(Exception, match="(?i)unique|duplicate"):
        with store.transaction() as cursor:
            cursor.executemany("INSERT INTO items VALUES (?, ?, ?)", [("k1", 1, "a"), ("k2", 2, "b"), ("k1", 3, "c")])

    assert items(store) == []


def test_rows_follow_their_batch_order_into_a_sequence(store):
    serial = "INTEGER PRIMARY KEY" if store.dialect == "sqlite" else "BIGSERIAL PRIMARY KEY"
    with store.transaction() as cursor:
        cursor.execute(f"CREATE TABLE lines (position {serial}, body TEXT)")
    with store.transaction() as cursor:
        cursor.executemany("INSERT INTO lines (body) VALUES (?)", [(f"line {index}",) for index in range(50)])

    assert [row["body"] for row in store.query("SELECT body FROM lines ORDER BY position")] == [
        f"line {index}" for index in range(50)]


def test_values_json_cannot_carry_go_in_row_by_row(store):
    at = datetime(2026, 12, 4, 12, 30, tzinfo=timezone.utc)  # the drivers write it as text; JSON cannot
    with store.transaction() as cursor:
        cursor.executemany("INSERT INTO items VALUES (?, ?, ?)", [(f"d{index}", index, at) for index in range(4)])

    assert [row[2][:16] for row in items(store)] == ["2026-12-04 12:30"] * 4


def test_only_plain_inserts_are_sent_as_one_statement():
    assert plain_insert("INSERT INTO t VALUES (?, ?) ON CONFLICT (id) DO NOTHING") == (
        "t", None, 2, " ON CONFLICT (id) DO NOTHING")
    assert plain_insert("INSERT INTO t (a, b)\n VALUES (?,?)") == ("t", ("a", "b"), 2, "")
    assert plain_insert("INSERT INTO t VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET a = excluded.a") is None
    assert plain_insert("INSERT INTO t VALUES (?, ?), (?, ?)") is None
    assert plain_insert("UPDATE t SET a = ?") is None
    assert set_insert("t", (("a", "text"), ("n", "bigint")), "") == (
        "INSERT INTO t (a, n) SELECT (r->>0)::text, (r->>1)::numeric::bigint"
        " FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS batch(r, n) ORDER BY n")
