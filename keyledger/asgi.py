"""ASGI factory: what uvicorn imports in every API process."""

import gc

from litestar import Litestar

from api.app import create_app
from keyledger.settings import Settings
from keyledger.wiring import build_runtime


def create() -> Litestar:
    runtime = build_runtime(Settings.from_env())
    runtime.end_streams_on_exit_signals()  # uvicorn has set its handlers by now: an open stream must not outlast them
    app = create_app(runtime)
    gc.freeze()  # what startup built lives as long as the process: the collector need not walk it again
    return app
