"""The call log's followers: what each costs a stored validation, beside a plain read of the same rows.

Run from the repository root:

    .venv/bin/python bench/followers.py                     # SQLite and PostgreSQL, 60,000 validations
    .venv/bin/python bench/followers.py --calls 6000        # smoke test (seconds)
    .venv/bin/python bench/followers.py --backends postgres

A fresh store is given `--calls` records of successful validations of one license, 1,000 a commit, then each
follower catches up over all of them alone, in this process: the security-event feed, the time-series feed and
the audit chain's keeper; then both feeds again as the workers run them, from one read (workers/call_feeds.py).
Each is timed in CPU of this process and of every PostgreSQL (and Redis) process on the machine (so run it on a
quiet one), per call. The baseline is reading the same rows page by page, which
every follower does before anything of its own. Compare ratios between runs.
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `python bench/followers.py` puts bench/, not the root, on the path
    sys.path.insert(0, str(ROOT))

from adapters.call_log import CallTable, to_row  # noqa: E402
from bench import validate  # noqa: E402
from bench.audit import fresh_runtime  # noqa: E402
from domain.client_call import CallRecord  # noqa: E402
from keyledger.wiring import Runtime  # noqa: E402
from workers.call_feeds import feed_calls  # noqa: E402
from workers.security_feed import feed_security_events, security_events_projection  # noqa: E402
from workers.timeseries_feed import feed_timeseries, timeseries_projection  # noqa: E402

PAGE = 5000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=60_000)
    parser.add_argument("--backends", nargs="+", default=["sqlite", "postgres"], choices=["sqlite", "postgres"])
    args = parser.parse_args()
    print(f"{'backend':<9} {'follower':<16} {'process µs':>11} {'postgres µs':>12}  of the plain read (process)")
    for backend in args.backends:
        with fresh_runtime(backend) as runtime:
            _measure(backend, runtime, args.calls)


def _measure(backend: str, runtime: Runtime, calls: int) -> None:
    store = runtime.ledger.calls.store
    _record(store, calls)
    now = datetime.now(timezone.utc)
    assert runtime.audit is not None
    keeper = runtime.audit.keeper
    base, base_db = _cost(lambda: _read_all(store), calls)
    print(f"{backend:<9} {'plain read':<16} {base:>11.1f} {_db(backend, base_db):>12}  1.0")
    for name, follow in (
        ("security events", lambda: feed_security_events(security_events_projection(runtime.projector.projections),
                                                         store, now)),
        ("time series", lambda: feed_timeseries(timeseries_projection(runtime.projector.projections), store, now)),
        ("audit chain", keeper.catch_up),
    ):
        own, db = _cost(follow, calls)
        print(f"{backend:<9} {name:<16} {own:>11.1f} {_db(backend, db):>12}  {own / base:.1f}")
    projections = runtime.projector.projections
    runtime.projector.rebuild(["security_events", "timeseries"])  # both back to the call log's start
    own, db = _cost(lambda: feed_calls(security_events_projection(projections), timeseries_projection(projections),
                                       store, now), calls)
    print(f"{backend:<9} {'both feeds':<16} {own:>11.1f} {_db(backend, db):>12}  {own / base:.1f}")


def _db(backend: str, microseconds: float) -> str:
    return f"{microseconds:.1f}" if backend == "postgres" else "-"


def _record(store: CallTable, calls: int) -> None:
    """`calls` successful validations of one license on one device, a millisecond apart, ending a minute ago."""
    license_id, product_id = uuid.uuid4(), uuid.uuid4()
    start = datetime.now(timezone.utc) - timedelta(minutes=1, milliseconds=calls)
    for first in range(0, calls, 1000):
        store.append([to_row(CallRecord("validation", license_id, product_id, None, None, "10.0.0.1", "hwid-bench",
                                        "bench/1.0", {}, start + timedelta(milliseconds=n)))
                      for n in range(first, min(first + 1000, calls))])


def _read_all(store: CallTable) -> int:
    after = count = 0
    while rows := store.rows(after, PAGE):
        count += len(rows)
        after = rows[-1][0]
    return count


def _cost(run: Callable[[], object], calls: int) -> tuple[float, float]:
    """Microseconds a call of this process's CPU, and of every PostgreSQL (and Redis) process's, while `run` runs."""
    own, db = time.process_time(), validate.db_ticks()
    run()
    ticks = sum(max(0, now - db.get(pid, (b"", 0))[1]) for pid, (_, now) in validate.db_ticks().items())
    return (time.process_time() - own) / calls * 1e6, ticks / validate.CLK_TCK / calls * 1e6  # ended: left out


if __name__ == "__main__":
    main()
