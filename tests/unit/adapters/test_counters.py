"""Counters in Redis (adapters/counters.py) as two API processes see them: every hit of a key's window gets
a number no other hit gets, whether counted one by one or in slices taken from Redis."""

import asyncio
import uuid

import pytest

from adapters.counters import RedisCounters
from tests.conftest import REDIS_URL


@pytest.fixture
def two_processes():
    prefix = f"kltest:{uuid.uuid4().hex[:8]}:"
    counters = [RedisCounters(REDIS_URL, prefix=prefix) for _ in range(2)]
    yield counters
    for each in counters:
        each.close()


@pytest.mark.parametrize("slice_size", [1, 10])
def test_two_processes_number_a_key_s_hits_without_gaps_or_repeats(two_processes, slice_size):
    counts = [two_processes[n % 2].hit(["v:key"], [60], [slice_size])[0][0] for n in range(100)]

    assert sorted(counts) == list(range(1, 101))


def test_a_slice_in_one_process_s_hand_is_not_given_out_by_another(two_processes):
    first, second = two_processes

    assert first.hit(["v:key"], [60], [10])[0][0] == 1
    assert second.hit(["v:key"], [60], [10])[0][0] == 11
    assert first.hit(["v:key"], [60], [10])[0][0] == 2


def test_hits_from_the_event_loop_are_numbered_alike(two_processes):
    async def hits(counters, n):
        return [(await counters.hit_async(["v:key", "c:ip"], [60, 60], [5, 1]))[0][0] for _ in range(n)]

    async def both():
        return await asyncio.gather(hits(two_processes[0], 30), hits(two_processes[1], 30))

    first, second = asyncio.run(both())

    assert sorted(first + second) == list(range(1, 61))


@pytest.mark.parametrize("slice_size", [1, 6])
def test_hits_of_one_key_counted_together_take_one_number_each(two_processes, slice_size):
    first, _ = two_processes

    counts = [count for count, _ in first.hit(["c:ip"] * 40, [60] * 40, [slice_size] * 40)]

    assert counts == list(range(1, 41))
    assert first.peek("c:ip") == 40  # a slice per hit would have counted 240: refusals long before the limit


def test_requests_waiting_together_on_the_event_loop_count_once_each(two_processes):
    first, _ = two_processes

    async def many():
        return await asyncio.gather(*(first.hit_async(["c:ip"], [60], [6]) for _ in range(50)))

    counts = sorted(hits[0][0] for hits in asyncio.run(many()))

    assert counts == list(range(1, 51)) and first.peek("c:ip") <= 50 + 6
