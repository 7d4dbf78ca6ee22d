"""The client view's catch-ups on an event loop: calls that need a newer head never stall the loop."""

from __future__ import annotations

import asyncio
import threading

from commands.client_view import ClientView


class EmptyLog:
    """An event log with nothing in it: a catch-up reaches whatever head it is given."""

    def select_notifications(self, start: int, stop: int, limit: int, topics: list[str],
                             inclusive_of_start: bool) -> list:
        return []


class HeldLog(EmptyLog):
    """A log whose reads wait until `release` is set: a catch-up still running when the next head comes."""

    def __init__(self) -> None:
        self.release = threading.Event()

    def select_notifications(self, *args, **kwargs) -> list:
        self.release.wait(10)
        return []


class Head:
    def __init__(self, value: int) -> None:
        self.value = value

    def __call__(self) -> int:
        return self.value

    async def read_async(self) -> int:
        return self.value


def run_in_thread(coroutine_function, seconds: float = 10):
    """Run on an event loop of its own thread: a loop that never yields again cannot be timed out from inside."""
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(result=asyncio.run(coroutine_function())), daemon=True)
    thread.start()
    thread.join(timeout=seconds)
    assert not thread.is_alive(), "the event loop never came back"
    return outcome["result"]


def test_a_call_needing_a_newer_head_than_a_finished_catch_up_reads_on():
    async def reach_past_a_finished_catch_up() -> int:
        view = ClientView(EmptyLog(), None, Head(2))
        await view.reach(1)
        # The moment between a catch-up's last step and its done-callback, which runs on the loop's next turn:
        # a call arriving in that turn finds it done but still current. Awaiting a done future does not yield.
        finished = asyncio.get_running_loop().create_future()
        finished.set_result(1)
        view._reaching = finished
        await view.reach(2)
        return view.position

    assert run_in_thread(reach_past_a_finished_catch_up) == 2


def test_calls_arriving_together_share_one_catch_up_and_all_reach_the_head():
    async def many_calls() -> int:
        view = ClientView(EmptyLog(), None, Head(5))
        await asyncio.gather(*(view.fresh() for _ in range(20)), view.reach(3), view.reach(5))
        return view.position

    assert run_in_thread(many_calls) == 5


def test_a_head_followed_while_a_catch_up_runs_is_reached_after_it_with_no_call_after():
    async def follow_twice() -> int:
        log = HeldLog()
        view = ClientView(log, None, Head(9))
        view.follow(5)
        await asyncio.sleep(0.05)  # the catch-up to 5 is reading
        view.follow(9)  # a call decided from memory saw the head at 9
        log.release.set()
        while not view._following.done():  # nobody calls again
            await asyncio.sleep(0.01)
        return view.position

    assert run_in_thread(follow_twice) == 9
