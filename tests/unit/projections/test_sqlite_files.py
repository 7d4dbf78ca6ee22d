"""SQLite files opened by several processes at once: the first opening of a new file switches it to WAL,
and SQLite refuses that switch at once, without waiting, while another connection holds the file.

The read store takes turns at the switch itself (projections/db.py); every file a process opens at start,
the call log's too, is opened under the schema lock (keyledger/wiring.py), which SQLite deployments hold
with an `flock`."""

import threading
import time
from pathlib import Path

from keyledger.settings import Settings
from keyledger.wiring import schema_lock
from projections.db import SQLiteReadStore


def test_four_read_stores_opening_a_new_file_together_all_open_it(tmp_path: Path) -> None:
    errors: list[BaseException] = []
    # One race lost about one time in seven before the switch took turns; thirty make a miss unlikely.
    for attempt in range(30):
        path, start, opened = tmp_path / f"{attempt}.sqlite3", threading.Barrier(4), []

        def run() -> None:
            start.wait()
            try:
                store = SQLiteReadStore(path)
                opened.append(store)
                with store.transaction() as cursor:
                    cursor.execute("CREATE TABLE IF NOT EXISTS probe (n INTEGER)")
            except Exception as error:  # noqa: BLE001 - the test reports any failure of a racing opener
                errors.append(error)

        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for store in opened:
            store.close()

    assert errors == []


def test_processes_starting_on_one_sqlite_data_dir_take_turns_under_the_schema_lock(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path / "data"))
    inside, overlapped = [], []

    def start() -> None:
        with schema_lock(settings):
            inside.append(1)
            overlapped.append(len(inside) > 1)
            time.sleep(0.05)
            inside.pop()

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlapped == [False, False, False]
