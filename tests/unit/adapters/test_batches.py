"""BatchThread (adapters/batches.py): callers waiting together share one call of the handler, and each learns
its own item's fate, whatever the handler does."""

import asyncio

import pytest

from adapters.batches import BatchThread


def test_a_handler_that_answers_too_few_fails_its_callers_and_the_next_batch_is_served():
    batches_handled = []

    def handle(items):
        batches_handled.append(items)
        doubled = [item * 2 for item in items]
        return doubled[:-1] if len(batches_handled) == 1 else doubled  # the first batch's answer is short

    batches = BatchThread("doubler", handle)
    try:
        with pytest.raises(RuntimeError, match="answered 0 of 1"):
            batches.submit(1)
        assert batches.submit(2) == 4
    finally:
        batches.close()


def test_callers_on_an_event_loop_get_their_own_results_or_the_batch_s_error():
    def handle(items):
        if "boom" in items:
            raise ValueError("boom")
        return [item.upper() for item in items]

    async def main():
        batches = BatchThread("upper", handle)
        try:
            ok = await asyncio.gather(*(batches.submit_async(word) for word in ("a", "b", "c")))
            failed = await asyncio.gather(batches.submit_async("boom"), return_exceptions=True)
            return ok, failed
        finally:
            batches.close()

    ok, failed = asyncio.run(main())
    assert ok == ["A", "B", "C"]
    assert isinstance(failed[0], ValueError)
